"""No import cycles among the modules of ``session_conformance``, read from the source with ``ast``.

Every import statement counts, at module level or inside a function (a cycle "broken" by importing
late is still a cycle). ``from x import y`` counts as importing ``x.y`` when that is a module, else
``x``; a package is the module of its ``__init__.py``. Importing ``a.b.c`` does not count as importing
the package ``a.b`` as well: Python runs ``a/b/__init__.py`` first, but counting that would flag every
package whose ``__init__`` re-exports its own modules.
"""

from __future__ import annotations

import ast
from collections import deque
from itertools import pairwise
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "session_conformance"

Graph = dict[str, dict[str, str]]  # module -> {imported module: "file:line" of the first import}


def modules_under(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a directory under ``root``), by dotted name."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imported(node: ast.Import | ast.ImportFrom, name: str, is_package: bool, known: set[str]) -> list[str]:
    """The dotted names one import statement of module ``name`` imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: `from . import x`, `from ..y import z`
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    return [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names]


def import_graph(root: Path, package: str) -> Graph:
    """Module -> the modules of the same package it imports, anywhere in its source."""
    modules = modules_under(root, package)
    known = set(modules)
    graph: Graph = {}
    for name, path in modules.items():
        edges: dict[str, str] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(node, name, path.name == "__init__.py", known):
                while target and target not in known:  # `a.b.name` -> the module `a.b`
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.setdefault(target, f"{path.relative_to(root)}:{node.lineno}")
        graph[name] = edges
    return graph


def strongly_connected(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, iteratively (no recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in graph:
                    continue
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def one_cycle(graph: dict[str, dict[str, str]], component: list[str]) -> list[str]:
    """A shortest cycle through the first module of a component: [a, b, ..., a]."""
    members, start = set(component), component[0]
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph[node]):
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if successor in members and successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    raise AssertionError(f"no cycle through {start}: not a strongly connected component")


def cycle_report(graph: dict[str, dict[str, str]]) -> list[str]:
    """One line per import cycle: its modules, and one cycle with the import that makes each step."""
    lines = []
    for component in strongly_connected(graph):
        cycle = one_cycle(graph, component)
        steps = " -> ".join([cycle[0]] + [f"{b} ({graph[a][b]})" for a, b in pairwise(cycle)])
        lines.append(f"{len(component)} modules import each other: {', '.join(component)}; e.g. {steps}")
    return lines


def test_no_import_cycles() -> None:
    graph = import_graph(SRC, PACKAGE)
    assert len(graph) > 40 and sum(map(len, graph.values())) > 100, "the graph reads (almost) no imports"
    report = cycle_report(graph)
    assert not report, "import cycles:\n" + "\n".join(report)


def test_the_registries_import_no_api() -> None:
    """faults.py / variants.py are what the API packages import to register: they import nothing back."""
    graph = import_graph(SRC, PACKAGE)
    for registry in ("faults", "variants"):
        assert not graph[f"{PACKAGE}.server.{registry}"], graph[f"{PACKAGE}.server.{registry}"]
    catalogue = graph[f"{PACKAGE}.server.catalogue"]
    for api in ("trinsic", "zitadel"):
        assert {f"{PACKAGE}.server.{api}.faults", f"{PACKAGE}.server.{api}.variants"} <= catalogue.keys()


def test_a_synthetic_cycle_is_reported() -> None:
    graph = {"a": {"b": "a.py:1"}, "b": {"c": "b.py:1"}, "c": {"a": "c.py:9", "d": "c.py:2"}, "d": {}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert cycle_report(graph) == [
        "3 modules import each other: a, b, c; e.g. a -> b (a.py:1) -> c (b.py:1) -> a (c.py:9)"
    ]
    assert cycle_report({"a": {"b": ""}, "b": {}}) == []


def test_a_package_with_modules_importing_each_other_is_reported(tmp_path: Path) -> None:
    """Function-level, relative and `from package import module` imports all make edges."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .low import VALUE\n")
    (pkg / "sub" / "low.py").write_text("VALUE = 1\n")
    (pkg / "registry.py").write_text(
        "from pkg.sub import VALUE\n\ndef everything():\n    from pkg import api  # late, still an edge\n"
    )
    (pkg / "api.py").write_text("import os\nfrom . import registry\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {},
        "pkg.api": {"pkg.registry": "pkg/api.py:2"},
        "pkg.registry": {"pkg.sub": "pkg/registry.py:1", "pkg.api": "pkg/registry.py:4"},
        "pkg.sub": {"pkg.sub.low": "pkg/sub/__init__.py:1"},
        "pkg.sub.low": {},
    }
    assert cycle_report(graph) == [
        "2 modules import each other: pkg.api, pkg.registry; "
        "e.g. pkg.api -> pkg.registry (pkg/api.py:2) -> pkg.api (pkg/registry.py:4)"
    ]


def test_every_module_says_its_one_job_in_its_first_docstring_line() -> None:
    """A newcomer reads the tree from the docstrings: each module has one, its first line a sentence."""
    missing = []
    root = SRC / PACKAGE
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts or "_suites" in path.parts:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if not doc or not doc.split("\n", 1)[0].strip():
            missing.append(str(path.relative_to(root)))
    assert not missing, f"modules without a first docstring line: {missing}"

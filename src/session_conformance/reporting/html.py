"""Build the Allure HTML report (``tox -e report``) with the pinned Allure 3 CLI, keeping history.

Allure 3 (npm package ``allure``, pinned in the repository's ``package.json``/``package-lock.json``)
runs on Node alone; no Java is needed. The report is one self-contained ``index.html`` (opens from
disk or any static host) plus:

- ``history/history.jsonl``: Allure 3's run history, carried from run to run. The working copy is
  ``reports/history.jsonl`` (``--history``); CI restores it from the published site before building
  (see ``ci-examples/``) so that the trend charts grow night after night;
- ``contracts/``: a copy of the contracts, so the report's relative contract links resolve;
- ``conformance-summary.{json,md}`` when the run wrote them.

Usage: ``python -m session_conformance.reporting.html [--results DIR] [--output DIR] [--history FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from session_conformance.contracts import contracts_dir
from session_conformance.reporting.environment import categories

ALLURE_PACKAGE = "allure"
HISTORY_IN_REPORT = Path("history") / "history.jsonl"
DEFAULT_HISTORY_LIMIT = 60  # about two months of nightly runs
GROUP_BY = ["epic", "feature", "story"]  # API → operation → rule
# Allure 3's page template always loads a third-party analytics script; a conformance report (target
# names, findings) is opened by vendors and QA on internal hosts, so the report carries none.
_ANALYTICS = re.compile(
    r'<script async src="https://www\.googletagmanager\.com/[^"]*"></script>\s*'
    r"<script>\s*window\.dataLayer[\s\S]*?</script>"
)


class ReportError(Exception):
    """A problem building the report: printed as one line, exit status 2."""


def project_root(start: Path | None = None) -> Path:
    """The folder with the ``package.json`` that pins Allure: the checkout root, else the cwd."""
    for folder in [Path(__file__).resolve(), *Path(__file__).resolve().parents]:
        if (folder / "package.json").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return (start or Path.cwd()).resolve()


def pinned_version(root: Path) -> str | None:
    try:
        manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for section in ("devDependencies", "dependencies"):
        version = manifest.get(section, {}).get(ALLURE_PACKAGE)
        if version:
            return str(version)
    return None


def _installed_cli(root: Path) -> Path | None:
    cli = root / "node_modules" / ALLURE_PACKAGE / "cli.js"
    finished = root / "node_modules" / ".package-lock.json"  # npm writes it when an install is complete
    return cli if cli.is_file() and finished.is_file() else None


def find_allure(root: Path, *, install: bool = True) -> list[str]:
    """The command that runs the pinned Allure CLI, installing it with ``npm ci`` when missing.

    ``ALLURE_CLI`` overrides the lookup (a path to ``cli.js`` or an ``allure`` executable).
    """
    override = os.environ.get("ALLURE_CLI", "").strip()
    node = shutil.which("node")
    if override:
        return [node, override] if override.endswith(".js") and node else [override]
    if node is None:
        raise ReportError("Node.js is needed for the HTML report (Allure 3): install `nodejs` and `npm`")
    cli = _installed_cli(root)
    if cli is None and install:
        with _install_lock(root):  # parallel test workers may all want the CLI at once
            cli = _installed_cli(root) or _npm_install(root)
    if cli is None:
        raise ReportError(
            f"the Allure CLI is not installed under {root / 'node_modules'}; run `npm ci` there"
        )
    return [node, str(cli)]


@contextlib.contextmanager
def _install_lock(root: Path) -> Iterator[None]:
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"session-conformance-npm-{digest}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _npm_install(root: Path) -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        raise ReportError("npm is needed to install the pinned Allure CLI: install `npm`")
    command = [
        npm,
        "ci" if (root / "package-lock.json").is_file() else "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]
    print(
        f"installing the pinned Allure CLI ({ALLURE_PACKAGE}@{pinned_version(root)}): "
        f"npm {' '.join(command[1:])}",
        file=sys.stderr,
    )
    done = subprocess.run(command, cwd=root, check=False)
    if done.returncode != 0:
        raise ReportError(f"`npm {command[1]}` failed in {root} (exit {done.returncode})")
    return _installed_cli(root)


def allure_config(*, name: str, output: Path, history: Path, history_limit: int) -> dict[str, Any]:
    cats = categories()
    for category in cats:
        category.pop("description", None)
        if category["name"].startswith("Target defects"):
            category["groupBy"] = [{"label": "epic"}, {"label": "rule"}]
    return {
        "name": name,
        "output": str(output),
        "historyPath": str(history),
        "historyLimit": history_limit,
        "categories": cats,
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": True,
                    "reportLanguage": "en",
                    "groupBy": GROUP_BY,
                    "reportName": name,
                },
            },
        },
    }


def _has_results(results: Path) -> bool:
    return results.is_dir() and any(results.glob("*-result.json"))


def build(
    *,
    results: Path,
    output: Path,
    history: Path,
    name: str = "Session conformance",
    history_limit: int = DEFAULT_HISTORY_LIMIT,
    root: Path | None = None,
    install: bool = True,
    extra_files: Sequence[Path] = (),
) -> Path:
    """Generate the report into ``output`` and return its ``index.html``."""
    root = root or project_root()
    results, output, history = results.resolve(), output.resolve(), history.resolve()
    if not _has_results(results):
        raise ReportError(f"no Allure results in {results}: run `tox -e conformance` first")
    command = find_allure(root, install=install)

    # History: the working copy wins; otherwise take the one the previous report carried.
    carried = output / HISTORY_IN_REPORT
    history.parent.mkdir(parents=True, exist_ok=True)
    if not history.exists() and carried.is_file():
        shutil.copyfile(carried, history)

    if output.exists():
        shutil.rmtree(output)
    with tempfile.TemporaryDirectory(prefix="allurerc-") as tmp:
        config_file = Path(tmp) / "allurerc.mjs"
        config = allure_config(name=name, output=output, history=history, history_limit=history_limit)
        config_file.write_text("export default " + json.dumps(config, indent=2) + ";\n", encoding="utf-8")
        env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
        done = subprocess.run(
            [*command, "generate", str(results), "--config", str(config_file), "--output", str(output)],
            cwd=tmp,
            env=env,
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    index = output / "index.html"
    if done.returncode != 0 or not index.is_file():
        raise ReportError(f"allure generate failed (exit {done.returncode}):\n{done.stdout.strip()[-2000:]}")

    strip_analytics(index)
    if history.is_file():
        (output / HISTORY_IN_REPORT).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(history, output / HISTORY_IN_REPORT)
    source_contracts = contracts_dir()
    if source_contracts.is_dir():
        shutil.copytree(source_contracts, output / "contracts", dirs_exist_ok=True)
    for extra in extra_files:
        if extra.is_file():
            shutil.copyfile(extra, output / extra.name)
    return index


def strip_analytics(index: Path) -> None:
    text = index.read_text(encoding="utf-8")
    cleaned = _ANALYTICS.sub("", text)
    if cleaned != text:
        index.write_text(cleaned, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m session_conformance.reporting.html",
        description="Build the Allure HTML report with history.",
    )
    reports = Path(os.environ.get("CONFORMANCE_REPORTS_DIR", "reports"))
    parser.add_argument(
        "--results", type=Path, default=None, help="Allure results folder (default: <reports>/allure-results)"
    )
    parser.add_argument("--output", type=Path, default=None, help="report folder (default: <reports>/html)")
    parser.add_argument(
        "--history",
        type=Path,
        default=None,
        help="history file carried between runs (default: <reports>/history.jsonl)",
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=reports,
        help="reports folder (default: $CONFORMANCE_REPORTS_DIR or ./reports)",
    )
    parser.add_argument("--name", default=os.environ.get("CONFORMANCE_REPORT_NAME", "Session conformance"))
    parser.add_argument("--history-limit", type=int, default=DEFAULT_HISTORY_LIMIT)
    parser.add_argument("--no-install", action="store_true", help="never run `npm ci` for the Allure CLI")
    args = parser.parse_args(argv)
    base: Path = args.reports_dir
    try:
        index = build(
            results=args.results or base / "allure-results",
            output=args.output or base / "html",
            history=args.history or base / "history.jsonl",
            name=args.name,
            history_limit=args.history_limit,
            install=not args.no_install,
            extra_files=[base / "conformance-summary.json", base / "conformance-summary.md"],
        )
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    print(f"Allure report: {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

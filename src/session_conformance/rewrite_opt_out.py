"""Keeps pytest from assertion-rewriting Hypothesis and Schemathesis: ~4 s per process without it.

pytest marks every module of a distribution that ships a pytest plugin for assertion rewriting. With
bytecode writing off (PYTHONDONTWRITEBYTECODE, as tox sets it) the rewritten modules are never cached,
so each process (and each xdist worker) re-parses and recompiles all of Hypothesis and Schemathesis.
Their own ``assert`` statements behave the same unrewritten. Importing this module before them (the
plugin imports it first; ``-p session_conformance.pytest_plugin`` loads the plugin before the
entry-point plugins) takes them off pytest's list. Imports nothing heavy on purpose.
"""

from __future__ import annotations

import sys

NO_REWRITE = frozenset({"schemathesis", "hypothesis", "anyio", "_hypothesis_pytestplugin"})


def opt_out(finders: list[object] | None = None) -> None:
    """Remove the packages above from the rewrite list of pytest's import hook, if one is installed."""
    for finder in sys.meta_path if finders is None else finders:
        marked = getattr(finder, "_must_rewrite", None)
        if isinstance(marked, set) and marked & NO_REWRITE:
            marked.difference_update(NO_REWRITE)
            cache = getattr(finder, "_marked_for_rewrite_cache", None)
            if isinstance(cache, dict):
                cache.clear()


opt_out()

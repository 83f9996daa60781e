"""One folder per run, so that runs from one checkout never clobber each other.

Without ``--reports-dir``, a run writes into ``reports/runs/<UTC time>-<target>-<pid>/`` and, when it
ends, publishes itself: ``reports/latest`` names it, and ``reports/conformance-summary.{json,md}``,
``reports/junit.xml`` and ``reports/allure-results`` (a link) show the newest run, each replaced in one
atomic step. Parallel runs against several targets all complete; ``matrix reports/runs/*`` reads them.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

RUNS = "runs"
LATEST = "latest"
KEEP_RUNS = 30  # older run folders are removed when a run publishes itself
PUBLISHED_FILES = ("conformance-summary.json", "conformance-summary.md", "junit.xml")


def new_run_dir(reports: Path, base_url: str | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = "embedded" if base_url is None else (urlsplit(base_url).netloc or "target")
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", target).strip("-")[:60]
    run = reports / RUNS / f"{stamp}-{slug}-{os.getpid()}"
    run.mkdir(parents=True, exist_ok=True)
    return run


def _replace_link(link: Path, target: str) -> None:
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(target)
    if link.is_dir() and not link.is_symlink():  # a results folder of an older layout
        shutil.rmtree(link, ignore_errors=True)
    os.replace(temporary, link)


def publish(reports: Path, run: Path) -> None:
    """Make ``run`` the latest: links and copies under ``reports``, each swapped in atomically."""
    relative = run.relative_to(reports)
    _replace_link(reports / LATEST, str(relative))
    if (run / "allure-results").is_dir():
        _replace_link(reports / "allure-results", str(relative / "allure-results"))
    for name in PUBLISHED_FILES:
        if (run / name).is_file():
            temporary = reports / f".{name}.{os.getpid()}"
            shutil.copyfile(run / name, temporary)
            os.replace(temporary, reports / name)
    runs = sorted((p for p in (reports / RUNS).iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in runs[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)

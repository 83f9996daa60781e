"""The HTML report as a person sees it: a small conformance run, ``reporting.html`` (Allure 3 on Node),
then headless Debian Chromium renders the page; its DOM must show the run's results, and a screenshot
is kept under ``reports/screenshots/`` as an artifact.

Skipped only when Chromium is absent (CI installs the Debian ``chromium`` package).
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from session_conformance.reporting import html
from test_reporting import run_conformance

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "reports" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--virtual-time-budget=15000",  # lets the single-page app load its data and render before the dump
]


def chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def render(page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    browser = chromium()
    assert browser is not None
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
            capture_output=True,
            text=True,
            check=False,
            timeout=240,
        )


def visible_text(dom: str) -> str:
    body = dom[dom.find('<div id="app"') :]
    body = re.sub(r"<(script|style)\b[\s\S]*?</\1>", " ", body)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if chromium() is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium); CI installs it")
    tmp = tmp_path_factory.mktemp("browser")
    done, reports = run_conformance(tmp, "-p", "no:xdist")
    assert done.returncode == 1, done.stdout + done.stderr
    history = reports / "history.jsonl"
    for _ in range(2):  # two builds: the second one carries the first one's history
        index = html.build(
            results=reports / "allure-results", output=reports / "html", history=history, name="Browser check"
        )
    assert len(history.read_text().splitlines()) == 2
    assert (reports / "html" / "history" / "history.jsonl").read_text() == history.read_text()
    return index


def test_report_page_shows_the_runs_results(report: Path) -> None:
    done = render(report, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    text = visible_text(done.stdout)
    assert "Browser check" in text
    assert re.search(r"\bTotal 6\b", text), text[:1500]
    assert re.search(r"\bFailed 2\b", text), text[:1500]
    assert re.search(r"\bPassed 2\b", text), text[:1500]
    # the environment section and the API → operation → rule tree
    assert "contracts.digest" in text and "embedded reference server" in text
    for epic in ("trinsic", "zitadel-v2", "zitadel-v2beta"):
        assert re.search(rf"\b{re.escape(epic)}\b", text)
    assert "TRN-R03:" in text and "test_breaks_a_rule" in text
    assert "googletagmanager" not in report.read_text()  # no third-party analytics in the page


def test_report_screenshot_is_kept(report: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "allure-report.png"
    shot.unlink(missing_ok=True)
    done = render(report, "--window-size=1400,1000", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty canvas

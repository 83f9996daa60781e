"""`tox -e report` installs only jsonschema and referencing: the HTML report must import without the rest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# the project's other dependencies (pyproject.toml), none of them in the report's environment (tox.ini)
ABSENT = (
    "schemathesis hypothesis jsonschema_rs httpx starlette uvicorn pytest _pytest allure allure_commons "
    "allure_pytest harfile platformdirs trinsic zitadel_client"
)


def test_the_html_report_imports_with_the_report_envs_packages_only() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        absent = set({ABSENT.split()!r})

        class Absent:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in absent:
                    raise ModuleNotFoundError(f"No module named {{name!r}}")
                return None

        sys.meta_path.insert(0, Absent())
        import session_conformance.reporting.html
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr

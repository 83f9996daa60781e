"""Vendors' own tools: plain `st run` over our exported documents, with the exported config, is clean.

Exactly what the README tells a vendor to run, against a separately served reference server: all
default checks, every phase (stateful included). A fixed seed keeps CI repeatable; the example budget is
lowered to keep it fast.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from session_conformance.apis import APIS
from session_conformance.served import ServedServer

ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def served() -> ServedServer:  # type: ignore[misc]
    with ServedServer() as server:
        yield server


@pytest.mark.parametrize("api", APIS)
def test_plain_schemathesis_over_the_exported_document_is_clean(
    api: str, served: ServedServer, tmp_path: Path
) -> None:
    cli = [sys.executable, "-m", "session_conformance.cli", "openapi", "--api", api]
    document, config = tmp_path / f"{api}.json", tmp_path / "schemathesis.toml"
    document.write_text(subprocess.run(cli, capture_output=True, text=True, check=True).stdout)
    config.write_text(
        subprocess.run([*cli, "--schemathesis-config"], capture_output=True, text=True, check=True).stdout
    )
    command = [str(ST), "--config-file", str(config), "run", str(document)]
    command += ["--url", served.env["CONFORMANCE_BASE_URL"]]
    command += ["-H", f"Authorization: Bearer {served.env['CONFORMANCE_TOKEN']}"]
    command += ["--max-examples", "25", "--seed", "20261127"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:]
    assert "✅ Stateful" in done.stdout, done.stdout[-3000:]  # the stateful phase ran, and passed

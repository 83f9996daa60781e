"""Target discovery: a target without Zitadel's Connect transport (before v4) has those APIs skipped (C01)."""

from __future__ import annotations

import os
import subprocess
import sys

from session_conformance.discovery import unserved_apis
from session_conformance.served import ServedServer, live_env
from session_conformance.server import EmbeddedServer

CONNECT = ("zitadel-v2-connect", "zitadel-v2beta-connect")


def test_a_target_with_connect_serves_every_api() -> None:
    with EmbeddedServer() as server:
        apis = ("trinsic", "zitadel-v2", *CONNECT)
        assert unserved_apis(server.url, server.primary_token, apis, timeout=5) == {}


def test_a_target_without_connect_has_the_connect_apis_unserved() -> None:
    with EmbeddedServer(variants=["ztd-connect-absent"]) as server:
        found = unserved_apis(server.url, server.primary_token, ("zitadel-v2", *CONNECT), timeout=5)
    assert sorted(found) == sorted(CONNECT)
    assert all("C01" in reason and "\n" not in reason for reason in found.values())


def test_a_run_skips_them_with_one_line(tmp_path: object) -> None:
    with ServedServer(variants=["ztd-connect-absent"]) as served:
        env = live_env(served, dict(os.environ))
        command = [sys.executable, "-m", "session_conformance.cli", "run", "--api", "zitadel-v2-connect"]
        command += ["--profile", "smoke", "--reports-dir", str(tmp_path), "-p", "no:randomly", "-q", "-rs"]
        command += ["-k", "test_wrong_media_type or test_create_answers_201"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "zitadel-v2-connect skipped: the target does not serve Zitadel's Connect transport" in done.stdout
    assert " failed" not in done.stdout.split("conformance verdicts")[-1].splitlines()[-1]

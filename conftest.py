"""Loads the session-conformance pytest plugin for the suites and the project's own tests."""

pytest_plugins = ["session_conformance.pytest_plugin"]

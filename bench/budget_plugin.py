"""A pytest plugin for the benchmark only: ``BENCH_MAX_EXAMPLES=N`` sets every profile's example budget.

``bench/run.py`` loads it with ``-p budget_plugin`` (``bench/`` on ``PYTHONPATH``) to measure wall time
against the example budget with everything else of a profile (stateful budget, coverage phase)
unchanged. The profiles are replaced at import time, before the conformance plugin resolves
``--profile``; nothing is changed when the variable is unset.
"""

from __future__ import annotations

import dataclasses
import os

from session_conformance import config as _config

_override = os.environ.get("BENCH_MAX_EXAMPLES")
if _override:
    for _name, _profile in list(_config.PROFILES.items()):
        _config.PROFILES[_name] = dataclasses.replace(_profile, max_examples=int(_override))

"""Stateful scenarios in groups side by side when the target is far (scenarios.py)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from session_conformance.scenarios import group_sizes, run_scenarios
from session_conformance.verdict import RuleViolation

SETTINGS = settings(
    max_examples=9,
    stateful_step_count=3,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_group_sizes_split_the_budget_and_give_later_groups_the_simplest_scenario_again() -> None:
    assert group_sizes(15, width=1) == [15]  # loopback: one run, as before
    assert group_sizes(15, width=11) == [3, 4, 4, 4, 4]  # standard at 50 ms: groups of at least 3
    assert group_sizes(4, width=11) == [4]  # smoke: too few to split
    sizes = group_sizes(100, width=11)
    assert len(sizes) == 11 and sum(sizes) == 100 + 10


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.draws: dict[str, list[int]] = {}
        self.threads: set[str] = set()


def _machine(recorder: _Recorder, *, wait: float = 0.0, fail: Any = None) -> type[RuleBasedStateMachine]:
    class Steps(RuleBasedStateMachine):
        @rule(value=st.integers(0, 10**9))
        def step(self, value: int) -> None:
            name = type(self).__name__
            with recorder.lock:
                recorder.running += 1
                recorder.most = max(recorder.most, recorder.running)
                recorder.draws.setdefault(name, []).append(value)
                recorder.threads.add(threading.current_thread().name)
            time.sleep(wait)  # a round trip
            with recorder.lock:
                recorder.running -= 1
            if fail is not None:
                fail(name)

    return Steps


def test_one_group_runs_in_the_calling_thread() -> None:
    recorder = _Recorder()
    run_scenarios(_machine(recorder), SETTINGS, seed=7, width=1)
    assert recorder.threads == {threading.current_thread().name}
    assert list(recorder.draws) == ["Steps"]


def test_groups_wait_side_by_side_each_with_its_own_draws() -> None:
    recorder = _Recorder()
    run_scenarios(_machine(recorder, wait=0.02), SETTINGS, seed=7, width=3)
    assert sorted(recorder.draws) == ["Steps", "Steps_group1", "Steps_group2"]
    assert recorder.most >= 2  # their waits overlapped
    draws = recorder.draws
    # Each group draws its own scenarios. Single values may coincide: Hypothesis favours bounds such as 10**9.
    assert draws["Steps"] != draws["Steps_group1"] != draws["Steps_group2"] != draws["Steps"]
    again = _Recorder()
    run_scenarios(_machine(again), SETTINGS, seed=7, width=3)
    for group in ("Steps_group1", "Steps_group2"):  # seeded from the run's seed: replayed alike
        assert again.draws[group] == draws[group]


def test_a_violated_rule_is_raised_before_another_groups_error() -> None:
    def fail(name: str) -> None:
        if "_group" in name:
            raise ValueError("not a rule")
        raise RuleViolation("TRN-R25", "the model and the target disagree")

    with pytest.raises(RuleViolation, match="TRN-R25") as raised:
        run_scenarios(_machine(_Recorder(), fail=fail), SETTINGS, seed=7, width=3)
    notes = raised.value.__notes__
    assert any("other groups of the 3 ended too: ValueError, ValueError" in note for note in notes)


def test_an_error_of_every_group_is_raised_as_it_is() -> None:
    def fail(name: str) -> None:
        raise ConnectionError("cut")

    with pytest.raises(ConnectionError):
        run_scenarios(_machine(_Recorder(), fail=fail), SETTINGS, seed=7, width=3)

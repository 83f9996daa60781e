"""A state machine's scenarios, run as a few groups side by side when the target is far (issue 18).

Each step of a scenario waits for its answer, so across a network a stateful check spends nearly all
its time waiting (the Zitadel model: 37 s at 50 ms, 3 of them CPU). There, the budget's scenarios are
split into groups that run at once in threads, each group with its own seed (``hypothesis.seed`` on
a subclass of the machine), so one worker keeps several requests in flight. On loopback
(``network.requests_ahead()`` is 1) it is one ``run_state_machine_as_test``, exactly as before.

Every group starts with Hypothesis' simplest scenario, so groups after the first get one scenario
more: the run still has at least the budget's number of distinct scenarios. The groups judge only
their own sessions (as every check does on a shared account), so they cannot disturb each other.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import hypothesis
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test, run_state_machine_as_test

from session_conformance import network

MIN_PER_GROUP = 3  # scenarios a group runs at least (one of them the simplest)

Machine = TypeVar("Machine", bound=type[RuleBasedStateMachine])


def group_sizes(examples: int, width: int | None = None) -> list[int]:
    """Scenarios of each group: ``examples`` over at most ``width`` groups (default: the requests
    ahead), each of at least ``MIN_PER_GROUP``; groups after the first repeat the simplest one."""
    width = network.requests_ahead() if width is None else width
    count = max(1, min(width, examples // MIN_PER_GROUP))
    base, extra = divmod(examples, count)
    return [base + (index < extra) + (index > 0) for index in range(count)]


def run_scenarios(
    machine: Machine, settings: hypothesis.settings, *, seed: int, width: int | None = None
) -> None:
    """Run ``settings.max_examples`` scenarios of ``machine``, in groups when the target is far.

    The first group keeps the run's own seed (``--hypothesis-seed``); group ``i`` is seeded
    ``seed << 8 | i``, so the same seed at the same round trip replays every group. When groups end on
    exceptions, a violated rule is raised before any other exception (a failure is the verdict,
    whatever else a group met).
    """
    sizes = group_sizes(settings.max_examples, width)
    if len(sizes) == 1:
        run_state_machine_as_test(machine, settings=settings)
        return

    def settings_of(size: int) -> hypothesis.settings:
        return hypothesis.settings(settings, max_examples=size)

    # Built one after the other: building reads the machine's source (ast.parse), which CPython 3.11
    # cannot do in two threads at once ("AST constructor recursion depth mismatch").
    tests = [
        get_state_machine_test(_group(machine, index, seed), settings=settings_of(size))
        for index, size in enumerate(sizes)
    ]
    with ThreadPoolExecutor(max_workers=len(tests), thread_name_prefix="scenarios") as pool:
        futures = [pool.submit(test) for test in tests]
        errors = [error for error in (future.exception() for future in futures) if error is not None]
    if errors:
        first = next((error for error in errors if isinstance(error, AssertionError)), errors[0])
        others = ", ".join(type(error).__name__ for error in errors if error is not first)
        if others:
            first.add_note(f"other groups of the {len(sizes)} ended too: {others}")
        raise first


def _group(machine: Machine, index: int, seed: int) -> type[RuleBasedStateMachine]:
    if not index:
        return machine
    return hypothesis.seed(seed << 8 | index)(type(f"{machine.__name__}_group{index}", (machine,), {}))

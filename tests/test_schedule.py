"""xdist scheduling (``schedule.DearestFirst``): the dearest checks first, one at a time, to the free."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from session_conformance.schedule import DearestFirst, make_scheduler


class _Node:
    """The part of xdist's WorkerController a scheduler talks to."""

    def __init__(self, name: str) -> None:
        self.name, self.shutting_down, self.sent = name, False, []
        self.gateway = SimpleNamespace(id=name)

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


def _config(dist: str = "load", workers: int = 3) -> Any:
    values = {"dist": dist, "maxschedchunk": None, "tx": [f"{workers}*popen"], "numprocesses": workers}
    return SimpleNamespace(
        getoption=lambda name, default=None: values.get(name, default), getvalue=values.get
    )


def _scheduler(count: int, tests: int) -> tuple[DearestFirst, list[_Node]]:
    sched = DearestFirst(_config(workers=count))
    nodes = [_Node(f"gw{i}") for i in range(count)]
    for node in nodes:
        sched.add_node(node)  # type: ignore[arg-type]
        sched.add_node_collection(node, [f"t{i}" for i in range(tests)])  # type: ignore[arg-type]
    sched.schedule()
    return sched, nodes


def test_the_first_two_rounds_are_dealt_like_a_snake() -> None:
    _, nodes = _scheduler(3, 20)
    assert [node.sent for node in nodes] == [[0, 5], [1, 4], [2, 3]]


def test_a_worker_that_finishes_gets_the_next_test_and_holds_two_at_most() -> None:
    sched, nodes = _scheduler(3, 20)
    sched.mark_test_complete(nodes[2], 2)  # type: ignore[arg-type]
    assert nodes[2].sent == [2, 3, 6]
    assert all(len(pending) <= 2 for pending in sched.node2pending.values())


def test_every_test_runs_once_and_every_worker_stops() -> None:
    sched, nodes = _scheduler(3, 8)
    while not all(node.shutting_down for node in nodes):
        for node in nodes:
            pending = sched.node2pending[node]  # type: ignore[index]
            if pending:
                sched.mark_test_complete(node, pending[0])  # type: ignore[arg-type]
            elif not node.shutting_down:
                sched.check_schedule(node)  # type: ignore[arg-type]
    assert sorted(i for node in nodes for i in node.sent) == list(range(8))


def test_only_load_distribution_is_ours() -> None:
    assert make_scheduler(_config("loadgroup"), None) is None
    assert isinstance(make_scheduler(_config("load"), None), DearestFirst)

"""How xdist hands a run's checks to its workers: the dearest first, one at a time, to whichever is free.

Every worker sorts the collection dearest first (``costs.json``, measured across a 50 ms round trip,
where a check's cost is mostly its requests). xdist's ``load`` then hands each worker a run of
consecutive tests at the start, and ``worksteal`` can take queued tests back only between two tests of
the worker that holds them: either way one worker began with several of the longest checks in a row
while the others ran out of work and stopped (docs/decisions/bench.md N4: 12 workers at 50 ms took
291 s with ``worksteal``, their tests summed to 906 s). ``DearestFirst`` deals the first two rounds
like a snake (worker 1 gets the dearest and the 2W-th dearest) and then gives each worker its next
test when it finishes one, so that no worker holds more than the test it runs and the next (xdist
runs a test once its worker knows what comes after it, for the fixtures' teardown).
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScheduling
from xdist.workermanage import WorkerController

AHEAD = 2  # tests a worker holds: the one it runs and the next


class DearestFirst(LoadScheduling):
    """xdist's load scheduling (crashed workers, shutdown and reports unchanged), dealt one at a time."""

    collection: list[str] | None  # set by LoadScheduling.__init__ (declared for mypy)

    def schedule(self) -> None:
        assert self.collection_is_completed
        collection: list[str] | None = self.collection
        if collection is not None:  # called again (a worker was added): top every worker up
            for node in self.nodes:
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        collection = next(iter(self.node2collection.values()))
        self.collection = collection
        self.pending[:] = range(len(collection))
        nodes = self.nodes
        for order in (nodes, nodes[::-1]):  # the snake: the dearest and the cheapest of the first 2W
            for node in order:
                self._send_tests(node, 1)
        if not self.pending:
            for node in nodes:
                node.shutdown()

    def check_schedule(self, node: WorkerController, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if not self.pending:
            node.shutdown()
            return
        missing = AHEAD - len(self.node2pending[node])
        if missing > 0:
            self._send_tests(node, missing)


def make_scheduler(config: pytest.Config, log: Any) -> DearestFirst | None:
    """``--dist load`` (what ``session-conformance run`` uses, and xdist's default with ``-n``)."""
    return DearestFirst(config, log) if config.getoption("dist", None) == "load" else None

"""``--shard I/N``: split the selected checks into N parts of about equal measured cost.

Deterministic: every part (and every xdist worker of a part) computes the same split from the same
collection. Costs are seconds per check, measured on a standard run (``costs.json``, refreshed by
``python -m session_conformance.sharding JUNIT_XML``); unknown checks count as the median.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

COSTS_FILE = Path(__file__).resolve().parent / "costs.json"


def cost_key(nodeid: str) -> str:
    """The measured unit: a test function with its parameters, without the path's folders."""
    path, sep, rest = nodeid.partition("::")
    return re.sub(r"^.*/", "", path) + sep + rest


def load_costs() -> dict[str, float]:
    try:
        data = json.loads(COSTS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()}


def cost_of(costs: dict[str, float] | None = None) -> Callable[[str], float]:
    """Seconds a check costs, by node ID (measured; an unknown check counts as the median)."""
    costs = load_costs() if costs is None else costs
    default = statistics.median(costs.values()) if costs else 1.0
    return lambda nodeid: costs.get(cost_key(nodeid), default)


def split(nodeids: Sequence[str], count: int, costs: dict[str, float] | None = None) -> list[list[str]]:
    """Longest-processing-time-first: the dearest check goes to the cheapest part; ties by node ID."""
    cost_of_check = cost_of(costs)
    weighted = sorted(((cost_of_check(n), n) for n in nodeids), key=lambda c: (-c[0], c[1]))
    parts: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for cost, nodeid in weighted:
        lightest = min(range(count), key=lambda i: (loads[i], i))
        parts[lightest].append(nodeid)
        loads[lightest] += cost
    return parts


def measure(junit_files: Sequence[Path]) -> dict[str, float]:
    costs: dict[str, list[float]] = {}
    for path in junit_files:
        for case in ET.parse(path).getroot().iter("testcase"):
            classname, name = case.get("classname", ""), case.get("name", "")
            nodeid = f"{classname.replace('.', '/')}.py::{name}"
            costs.setdefault(cost_key(nodeid), []).append(float(case.get("time") or 0.0))
    return {key: round(statistics.mean(values), 3) for key, values in sorted(costs.items())}


if __name__ == "__main__":
    COSTS_FILE.write_text(
        json.dumps(measure([Path(a) for a in sys.argv[1:]]), indent=1) + "\n", encoding="utf-8"
    )
    print(f"written: {COSTS_FILE}")

"""The fault registry: switches that each make the embedded server break one documented rule on purpose.

They exist to prove that every check of the suites can fail. This module is the registry only and
imports no API: each API's ``faults`` module registers its faults at import time, and
``catalogue.py`` imports them all (``session-conformance serve --list-faults`` prints it from there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str  # "trn-..." or "ztd-...", kebab-case
    rule: str  # the rule ID the fault breaks
    description: str


FAULTS: dict[str, Fault] = {}


def register(name: str, rule: str, description: str) -> str:
    if name in FAULTS:
        raise ValueError(f"fault {name!r} registered twice")
    FAULTS[name] = Fault(name, rule, description)
    return name


class UnknownFault(ValueError):
    pass


class FaultSet:
    """The faults switched on for one server instance.

    Names are checked against the faults registered so far: build one with ``catalogue.fault_set``,
    which registers every API's faults first.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        names = [n.strip() for n in names if n.strip()]
        unknown = sorted(set(names) - FAULTS.keys())
        if unknown:
            raise UnknownFault(
                f"unknown fault(s): {', '.join(unknown)} (see `session-conformance serve --list-faults`)"
            )
        self.names = frozenset(names)

    def __contains__(self, name: str) -> bool:
        if name not in FAULTS:  # a typo in server code must not silently disable a fault
            raise KeyError(f"fault {name!r} is not registered")
        return name in self.names

    def __bool__(self) -> bool:
        return bool(self.names)

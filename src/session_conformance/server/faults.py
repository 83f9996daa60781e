"""Fault switches: each one makes the embedded server break one documented rule on purpose.

They exist to prove that every check of the suites can fail. API modules register their faults
at import time; ``session-conformance serve --list-faults`` prints this registry.
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
    """The faults switched on for one server instance."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        all_faults()  # make sure every API module has registered its faults
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


def all_faults() -> dict[str, Fault]:
    from session_conformance.server import trinsic, zitadel  # noqa: F401  (registration side effect)

    return dict(sorted(FAULTS.items()))

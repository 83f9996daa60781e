"""Variant switches: each one makes the embedded server take another reading the fact sheets allow.

The mirror of fault switches: a fault breaks a documented rule (the suites must fail), a variant makes a
different *legitimate* choice on an ambiguity (``A-nn``/``Z-nn``) or a transport convention that real
servers differ on (the suites must still pass). API modules register their variants at import time;
``session-conformance serve --list-variants`` prints this registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str  # "trn-..." or "ztd-...", kebab-case
    source: str  # the ambiguity or convention it comes from: "A-01", "Z-19", "convention"
    description: str
    rules: tuple[str, ...]  # rule IDs whose checks meet the variant (the variant matrix runs those)


VARIANTS: dict[str, Variant] = {}


def register(name: str, source: str, description: str, rules: Iterable[str]) -> str:
    if name in VARIANTS:
        raise ValueError(f"variant {name!r} registered twice")
    VARIANTS[name] = Variant(name, source, description, tuple(rules))
    return name


# The one variant of the shared provider-state hook (app.py): a target offers only the published states.
HOOK_PUBLISHED_STATES_ONLY = register(
    "ztd-hook-published-states-only",
    "target-interface",
    "the provider-state hook offers only the states target-interface.md publishes: the embedded server's "
    "own `zitadel idp intent succeeded` answers 400 unknown state (the checks needing it skip)",
    ("ZTD-R21", "ZTD-R29"),
)
PUBLISHED_PROVIDER_STATES = frozenset({"trinsic session finished", "zitadel user exists"})


class UnknownVariant(ValueError):
    pass


class VariantSet:
    """The variants switched on for one server instance; ``all`` switches on every variant."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        known = all_variants()
        names = [n.strip() for n in names if n.strip()]
        if "all" in names:
            names = list(known)
        unknown = sorted(set(names) - known.keys())
        if unknown:
            raise UnknownVariant(
                f"unknown variant(s): {', '.join(unknown)} (see `session-conformance serve --list-variants`)"
            )
        self.names = frozenset(names)

    def __contains__(self, name: str) -> bool:
        if name not in VARIANTS:  # a typo in server code must not silently disable a variant
            raise KeyError(f"variant {name!r} is not registered")
        return name in self.names

    def __bool__(self) -> bool:
        return bool(self.names)


def all_variants() -> dict[str, Variant]:
    from session_conformance.server import trinsic_variants, zitadel_variants  # noqa: F401  (registration)

    return dict(sorted(VARIANTS.items()))

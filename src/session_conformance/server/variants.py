"""The variant registry: switches that each make the embedded server take another reading the sheets allow.

The mirror of fault switches: a fault breaks a documented rule (the suites must fail), a variant makes a
different *legitimate* choice on an ambiguity (``A-nn``/``Z-nn``) or a transport convention that real
servers differ on (the suites must still pass). This module is the registry only and imports no API:
each API's ``variants`` module (and ``hook.py``) registers its variants at import time, and ``catalogue.py``
imports them all (``session-conformance serve --list-variants`` prints it from there).
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


class UnknownVariant(ValueError):
    pass


class VariantSet:
    """The variants switched on for one server instance; ``all`` switches on every variant.

    Names (and ``all``) mean the variants registered so far: build one with ``catalogue.variant_set``,
    which registers every variant first.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        names = [n.strip() for n in names if n.strip()]
        if "all" in names:
            names = list(VARIANTS)
        unknown = sorted(set(names) - VARIANTS.keys())
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

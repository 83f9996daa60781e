"""Every fault and variant of the embedded server: imports each module that registers some, then answers.

``faults.py`` and ``variants.py`` are bare registries that import no API (the APIs import them to
register), so whoever needs the complete list, or checks a name against it, comes here.
"""

from __future__ import annotations

from collections.abc import Iterable

from session_conformance.server import busy, hook
from session_conformance.server.faults import FAULTS, Fault, FaultSet
from session_conformance.server.trinsic import faults as trn_faults
from session_conformance.server.trinsic import variants as trn_variants
from session_conformance.server.variants import VARIANTS, Variant, VariantSet
from session_conformance.server.zitadel import connect_faults as ztd_connect_faults
from session_conformance.server.zitadel import connect_variants as ztd_connect_variants
from session_conformance.server.zitadel import faults as ztd_faults
from session_conformance.server.zitadel import variants as ztd_variants

# the modules whose import registers faults and variants (named so that the imports are plainly used)
REGISTRANTS = (
    trn_faults,
    trn_variants,
    ztd_faults,
    ztd_variants,
    ztd_connect_faults,
    ztd_connect_variants,
    hook,
    busy,
)


def all_faults() -> dict[str, Fault]:
    """Every fault, by name, sorted."""
    return dict(sorted(FAULTS.items()))


def all_variants() -> dict[str, Variant]:
    """Every variant, by name, sorted."""
    return dict(sorted(VARIANTS.items()))


def fault_set(names: Iterable[str] = ()) -> FaultSet:
    """The faults of ``names`` for one server; ``UnknownFault`` names any that is not registered."""
    return FaultSet(names)


def variant_set(names: Iterable[str] = ()) -> VariantSet:
    """The variants of ``names`` (``all``: every one) for one server; ``UnknownVariant`` for unknown names."""
    return VariantSet(names)

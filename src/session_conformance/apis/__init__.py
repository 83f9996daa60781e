"""The API families the suite knows, and lookups by API, rule ID and switch name.

Adding a family: a descriptor module here (see ``family.py``), an entry in ``FAMILIES``, its contracts
(``contracts/<api>/``), its server package and its suites (``suites/<family>/``).
"""

from __future__ import annotations

from session_conformance.apis.family import Api, ApiFamily, CreatedSession, Probe
from session_conformance.apis.trinsic import TRINSIC
from session_conformance.apis.zitadel import ZITADEL

__all__ = [
    "APIS",
    "API_FAMILY",
    "API_PARAMETERS",
    "FAMILIES",
    "FAMILY_NAMES",
    "RULE_PREFIXES",
    "Api",
    "ApiFamily",
    "CreatedSession",
    "Probe",
    "family",
    "family_of_api",
    "family_of_rule",
    "family_of_switch",
]

FAMILIES: tuple[ApiFamily, ...] = (TRINSIC, ZITADEL)
APIS: tuple[str, ...] = tuple(api.name for fam in FAMILIES for api in fam.apis)
API_FAMILY: dict[str, str] = {api.name: fam.name for fam in FAMILIES for api in fam.apis}
FAMILY_NAMES: frozenset[str] = frozenset(fam.name for fam in FAMILIES)  # also the suites' folder names
# test parameters that name the API a check runs against: `api`, and `<family>_api` per family
API_PARAMETERS: tuple[str, ...] = ("api", *(f"{fam.name}_api" for fam in FAMILIES))
# the rule-ID prefixes as a regular-expression alternation ("TRN-|ZTD-"; plain letters and hyphens)
RULE_PREFIXES: str = "|".join(fam.rule_prefix for fam in FAMILIES)
_BY_NAME = {fam.name: fam for fam in FAMILIES}


def family(name: str) -> ApiFamily:
    """A family by its name (``trinsic``) or by the name of one of its APIs (``zitadel-v2``)."""
    return _BY_NAME[API_FAMILY.get(name, name)]


def family_of_api(api: str) -> ApiFamily:
    return _BY_NAME[API_FAMILY[api]]


def family_of_rule(rule_id: str) -> ApiFamily | None:
    return next((fam for fam in FAMILIES if fam.owns_rule(rule_id)), None)


def family_of_switch(name: str) -> ApiFamily | None:
    """The family a fault or variant belongs to (``trn-...``, ``ztd-...``)."""
    return next((fam for fam in FAMILIES if name.startswith(fam.switch_prefix)), None)

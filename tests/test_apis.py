"""The API family descriptors agree with the contracts and the rule catalogue (what a third API needs)."""

from __future__ import annotations

import pytest

from session_conformance.apis import API_FAMILY, APIS, FAMILIES, family, family_of_rule, family_of_switch
from session_conformance.contracts import (
    Operation,
    OperationIndex,
    is_create,
    is_write,
    load_contracts,
    load_rules,
)
from session_conformance.server.catalogue import all_faults, all_variants


def test_names_prefixes_and_paths_are_unique() -> None:
    for attribute in ("name", "rule_prefix", "switch_prefix", "server_package"):
        values = [getattr(fam, attribute) for fam in FAMILIES]
        assert len(values) == len(set(values)), attribute
    assert len(APIS) == len(set(APIS))
    prefixes = [api.path_prefix for fam in FAMILIES for api in fam.apis]
    assert len(prefixes) == len(set(prefixes))


def test_every_rule_belongs_to_the_family_of_its_api() -> None:
    for rule_id, rule in load_rules().items():
        owner = family_of_rule(rule_id)
        assert owner is not None, rule_id
        assert family(str(rule["api"])).name == owner.name, rule_id


def test_every_fault_and_variant_names_a_family() -> None:
    for name in [*all_faults(), *all_variants()]:
        assert family_of_switch(name) is not None, name


@pytest.mark.parametrize("api", APIS)
def test_contracts_agree_with_the_descriptor(api: str) -> None:
    fam, contracts = family(api), load_contracts()
    operations = contracts.for_api(api)
    assert operations, f"{api}: no contract"
    prefix = fam.api(api).path_prefix
    assert all(op.path.startswith(prefix + "/") for op in operations)
    assert all(fam.api_of_path(op.path) == api for op in operations)
    creates = [op for op in operations if is_create(op)]
    assert creates and all(is_write(op) for op in creates)
    assert any(op.path == fam.create_path(api) and op.method == "POST" for op in creates)
    probe = fam.probe(api)
    probed = contracts_match(api, probe.method, probe.path)
    assert probed is not None and not is_write(probed), "the pre-flight probe must be a documented read"
    for rule in fam.generic_rules:
        assert family_of_rule(rule) is fam


def contracts_match(api: str, method: str, path: str) -> Operation | None:
    op = OperationIndex(load_contracts()).match(method, path)
    return op if op is not None and op.api == api else None


@pytest.mark.parametrize(
    ("api", "status", "create", "kind", "rule"),
    [
        ("trinsic", 201, True, "status", "TRN-R04"),
        ("trinsic", 200, False, "enum", "TRN-R42"),
        ("trinsic", 403, False, "status", "TRN-R02"),
        ("trinsic", 500, False, "body", "TRN-R03"),
        ("zitadel-v2", 200, True, "status", "ZTD-R02"),
        ("zitadel-v2", 201, False, "status", "ZTD-R03"),
        ("zitadel-v2beta", 200, False, "null", "ZTD-R08"),
        ("zitadel-v2beta", 200, False, "body", "ZTD-R07"),
        ("zitadel-v2", 401, False, "body", "ZTD-R01"),
        ("zitadel-v2", 400, False, "body", "ZTD-R04"),
        ("zitadel-v2-connect", 200, True, "status", "ZTD-T02"),
        ("zitadel-v2beta-connect", 400, False, "body", "ZTD-T01"),
        ("zitadel-v2-connect", 401, False, "body", "ZTD-R01"),
    ],
)
def test_response_rule_table(api: str, status: int, create: bool, kind: str, rule: str) -> None:
    assert family(api).response_rule_of(api, status, create=create, kind=kind) == rule


def test_api_family_map_is_derived_from_the_descriptors() -> None:
    assert API_FAMILY == {
        "trinsic": "trinsic",
        "zitadel-v2": "zitadel",
        "zitadel-v2beta": "zitadel",
        "zitadel-v2-connect": "zitadel",
        "zitadel-v2beta-connect": "zitadel",
    }

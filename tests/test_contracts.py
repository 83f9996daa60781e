"""Generic tests of the contract files of every API (``contracts/``, format in ``contracts/README.md``).

Nothing here knows a field of any API: the only API-specific facts are the 19 documented operations
(api, operationId, method, path). Everything else is derived from the files themselves:

- structure: one contract per documented operation, no stray files, 2020-12 metaschema, every
  ``$ref`` resolves, ``x-*`` metadata consistent, every rule ID known;
- OpenAPI: each assembled document is valid OpenAPI 3.1 and holds exactly the documented operations;
- examples: every ``examples`` entry of every ``$defs`` schema validates (plain and strict);
- mutations: starting from each example, the schemas are walked and every constraint met on the way
  (required keys, JSON types, enums, lengths, ranges, patterns, formats) is broken once; each mutant
  must be rejected by ``Contracts.validate``;
- the strict switch and the custom formats.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urldefrag, urljoin

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from session_conformance.apis import API_FAMILY, APIS
from session_conformance.contracts import (
    FORMATS,
    MODELS_DIR,
    RULES_FILE,
    Contracts,
    Operation,
    contracts_dir,
    load_contracts,
    load_rules,
    openapi_document,
)

ID_BASE = "https://session-conformance.dev/contracts/"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def _zitadel(api: str, prefix: str) -> list[tuple[str, str, str, str]]:
    ops = [
        ("CreateSession", "POST", "/sessions"),
        ("ListSessions", "POST", "/sessions/search"),
        ("GetSession", "GET", "/sessions/{sessionId}"),
        ("SetSession", "PATCH", "/sessions/{sessionId}"),
        ("DeleteSession", "DELETE", "/sessions/{sessionId}"),
    ]
    return [(api, f"SessionService_{name}", method, prefix + path) for name, method, path in ops]


def _connect(api: str, service: str) -> list[tuple[str, str, str, str]]:
    names = ("CreateSession", "ListSessions", "GetSession", "SetSession", "DeleteSession")
    return [(api, f"SessionService_{name}", "POST", f"/{service}/{name}") for name in names]


#: The 29 documented operations (Zitadel's 10 over REST and Connect): (api, operationId, method, path).
DOCUMENTED: tuple[tuple[str, str, str, str], ...] = (
    ("trinsic", "cancelSession", "POST", "/api/v1/sessions/{sessionId}/cancel"),
    ("trinsic", "createAdvancedProviderSession", "POST", "/api/v1/sessions/provider/advanced"),
    ("trinsic", "createHostedProviderSession", "POST", "/api/v1/sessions/provider/hosted"),
    ("trinsic", "createWidgetSession", "POST", "/api/v1/sessions/widget"),
    ("trinsic", "getSession", "GET", "/api/v1/sessions/{sessionId}"),
    ("trinsic", "getSessionResult", "POST", "/api/v1/sessions/{sessionId}/results"),
    ("trinsic", "listSessions", "GET", "/api/v1/sessions/list"),
    ("trinsic", "redactSession", "POST", "/api/v1/sessions/{sessionId}/redact"),
    ("trinsic", "refreshStepContent", "POST", "/api/v1/sessions/{acceptanceSessionId}/step/refresh"),
    *_zitadel("zitadel-v2", "/v2"),
    *_zitadel("zitadel-v2beta", "/v2beta"),
    *_connect("zitadel-v2-connect", "zitadel.session.v2.SessionService"),
    *_connect("zitadel-v2beta-connect", "zitadel.session.v2beta.SessionService"),
)
assert len(DOCUMENTED) == 29

AMBIGUITY_ID = re.compile(r"^([AZ]-\d{2}|C\d{2})$")  # C-nn: the Connect sheet's
STATUS_KEY = re.compile(r"^([1-5]\d\d|[1-5]XX|default)$")
INT_FORMAT_BOUNDS = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
EXTRA_KEY = "unexpectedExtraProperty"


def _load() -> tuple[Contracts | None, str | None]:
    # A half-written contract must fail one test, not the collection of the whole module.
    try:
        return load_contracts(), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


CONTRACTS, LOAD_ERROR = _load()
ROOT = contracts_dir()


def _contracts() -> Contracts:
    if CONTRACTS is None:
        pytest.fail(f"contracts do not load: {LOAD_ERROR}")
    return CONTRACTS


def _operations() -> list[Operation]:
    return sorted(CONTRACTS.operations.values(), key=lambda op: op.key) if CONTRACTS else []


def _json_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.json") if p.name != RULES_FILE or p.parent != ROOT)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --- JSON helpers ------------------------------------------------------------------------------------

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
TYPE_SAMPLES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "integer": 7,
    "number": 1.5,
    "string": "text",
    "array": [],
    "object": {},
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_get(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.split("/")[1:] if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def set_at(instance: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A deep copy of ``instance`` with the value at ``path`` replaced."""
    out = copy.deepcopy(instance)
    if not path:
        return copy.deepcopy(value)
    parent = out
    for token in path[:-1]:
        parent = parent[token]
    parent[path[-1]] = copy.deepcopy(value)
    return out


def show_path(path: tuple[str | int, ...]) -> str:
    return "".join(f"/{token}" for token in path) or "/"


# --- walking schemas ---------------------------------------------------------------------------------

_SCHEMA_MAPS = ("$defs", "properties", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_SINGLE = (
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
)


def subschemas(node: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in a schema document (examples, enums and ``x-*`` data are not schemas)."""
    if not isinstance(node, dict):
        return
    yield pointer, node
    for keyword in _SCHEMA_MAPS:
        for name, sub in (node.get(keyword) or {}).items():
            yield from subschemas(sub, f"{pointer}/{keyword}/{escape(name)}")
    for keyword in _SCHEMA_LISTS:
        for index, sub in enumerate(node.get(keyword) or ()):
            yield from subschemas(sub, f"{pointer}/{keyword}/{index}")
    for keyword in _SCHEMA_SINGLE:
        if keyword in node:
            yield from subschemas(node[keyword], f"{pointer}/{keyword}")


@dataclass(frozen=True)
class Node:
    """A schema object with the document and JSON pointer it lives at."""

    uri: str
    pointer: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Location:
    """One place in an example instance and the schema that governs it."""

    path: tuple[str | int, ...]
    uri: str
    pointer: str
    value: Any
    chain: tuple[Node, ...]  # schemas that certainly apply to ``value``: $ref, allOf, the one matching branch

    @property
    def key(self) -> str:
        return f"{self.uri}#{self.pointer}"


class Walker:
    def __init__(self, contracts: Contracts) -> None:
        self.contracts = contracts

    def schema_at(self, uri: str, pointer: str) -> Any:
        return pointer_get(self.contracts.documents[uri], pointer)

    @cache  # noqa: B019 - one walker per module, lives as long as the module
    def validator(self, uri: str, pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{uri}#{quote(pointer, safe='/~')}"},
            registry=self.contracts.registry,
            format_checker=FORMATS,
        )

    def chain(self, uri: str, pointer: str, value: Any) -> tuple[Node, ...]:
        out: list[Node] = []
        self._collect(uri, pointer, value, out)
        return tuple(out)

    def _collect(self, uri: str, pointer: str, value: Any, out: list[Node]) -> None:
        schema = self.schema_at(uri, pointer)
        if not isinstance(schema, dict) or len(out) > 64:
            return
        out.append(Node(uri, pointer, schema))
        if isinstance(schema.get("$ref"), str):
            target, fragment = urldefrag(urljoin(uri, schema["$ref"]))
            self._collect(target, unquote(fragment), value, out)
        for index in range(len(schema.get("allOf", ()))):
            self._collect(uri, f"{pointer}/allOf/{index}", value, out)
        for keyword in ("anyOf", "oneOf"):
            branches = [f"{pointer}/{keyword}/{i}" for i in range(len(schema.get(keyword, ())))]
            matching = [b for b in branches if self.validator(uri, b).is_valid(value)]
            if len(matching) == 1:
                self._collect(uri, matching[0], value, out)

    def walk(
        self, uri: str, pointer: str, value: Any, path: tuple[str | int, ...] = ()
    ) -> Iterator[Location]:
        chain = self.chain(uri, pointer, value)
        yield Location(path, uri, pointer, value, chain)
        if isinstance(value, dict):
            for key, item in value.items():
                declared = [n for n in chain if key in (n.schema.get("properties") or {})]
                maps = [n for n in chain if isinstance(n.schema.get("additionalProperties"), dict)]
                if declared:
                    node = declared[0]
                    yield from self.walk(
                        node.uri, f"{node.pointer}/properties/{escape(key)}", item, (*path, key)
                    )
                elif maps:  # a map: its values follow the additionalProperties schema
                    node = maps[0]
                    yield from self.walk(node.uri, f"{node.pointer}/additionalProperties", item, (*path, key))
        elif isinstance(value, list):
            for node in chain:
                if isinstance(node.schema.get("items"), dict):
                    for index, item in enumerate(value):
                        yield from self.walk(node.uri, f"{node.pointer}/items", item, (*path, index))
                    break

    def admitted_types(self, uri: str, pointer: str, depth: int = 0) -> set[str]:
        """The JSON types a schema can accept at all (only type, enum, const and composition count)."""
        schema = self.schema_at(uri, pointer)
        if schema is True or schema == {} or depth > 32:
            return set(JSON_TYPES)
        if schema is False:
            return set()
        types = set(JSON_TYPES)
        if "type" in schema:
            declared = {schema["type"]} if isinstance(schema["type"], str) else set(schema["type"])
            types &= declared | ({"integer"} if "number" in declared else set())
        if "enum" in schema:
            types &= {json_type(v) for v in schema["enum"]} | {
                "number" for v in schema["enum"] if json_type(v) == "integer"
            }
        if "const" in schema:
            types &= {json_type(schema["const"])}
        if isinstance(schema.get("$ref"), str):
            target, fragment = urldefrag(urljoin(uri, schema["$ref"]))
            types &= self.admitted_types(target, unquote(fragment), depth + 1)
        for index in range(len(schema.get("allOf", ()))):
            types &= self.admitted_types(uri, f"{pointer}/allOf/{index}", depth + 1)
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                union: set[str] = set()
                for index in range(len(schema[keyword])):
                    union |= self.admitted_types(uri, f"{pointer}/{keyword}/{index}", depth + 1)
                types &= union
        return types


# --- examples and mutants ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    op: Operation
    def_name: str
    index: int
    instance: Any

    @property
    def id(self) -> str:
        return f"{self.op.api}/{self.op.operation_id}/{self.def_name}[{self.index}]"


@dataclass(frozen=True)
class Mutant:
    """Broken copies of an example: one constraint broken at one place (wrong types grouped per place)."""

    example: Example
    path: tuple[str | int, ...]
    label: str
    variants: tuple[tuple[str, Any], ...]  # (what was broken, the whole broken instance)

    @property
    def id(self) -> str:
        return f"{self.example.id}{show_path(self.path)}:{self.label}"


def examples() -> list[Example]:
    out: list[Example] = []
    for op in _operations():
        for def_name, schema in sorted(op.defs.items()):
            if isinstance(schema, dict):
                out.extend(Example(op, def_name, i, ex) for i, ex in enumerate(schema.get("examples") or ()))
    return out


def _broken_string(value: str, node: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if node.get("minLength", 0) > 0:
        yield f"minLength={node['minLength']}", value[: node["minLength"] - 1]
    if "maxLength" in node:
        yield f"maxLength={node['maxLength']}", value + "x" * (node["maxLength"] + 1 - len(value))
    if "pattern" in node:
        for candidate in (value[:-1] + "!", "!" + value[1:], value + "!", "!" + value, "", " ", "x", "0"):
            if not re.search(node["pattern"], candidate):
                yield "pattern", candidate
                break
    fmt = node.get("format")
    if fmt in INT_FORMAT_BOUNDS:
        yield f"format={fmt}", str(INT_FORMAT_BOUNDS[fmt][1] + 1)
    elif fmt in FORMATS.checkers:
        yield f"format={fmt}", "%not a valid value%"


def _broken_number(value: int | float, node: dict[str, Any]) -> Iterator[tuple[str, int | float]]:
    if "minimum" in node:
        yield f"minimum={node['minimum']}", node["minimum"] - 1
    if "maximum" in node:
        yield f"maximum={node['maximum']}", node["maximum"] + 1
    if "exclusiveMinimum" in node:
        yield f"exclusiveMinimum={node['exclusiveMinimum']}", node["exclusiveMinimum"]
    if "exclusiveMaximum" in node:
        yield f"exclusiveMaximum={node['exclusiveMaximum']}", node["exclusiveMaximum"]
    if node.get("format") in INT_FORMAT_BOUNDS and isinstance(value, int):
        low, high = INT_FORMAT_BOUNDS[node["format"]]
        yield f"format={node['format']}:high", high + 1
        yield f"format={node['format']}:low", low - 1


def _broken_array(value: list[Any], node: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    if node.get("minItems", 0) > 0:
        yield f"minItems={node['minItems']}", value[: node["minItems"] - 1]
    if "maxItems" in node and value:
        yield f"maxItems={node['maxItems']}", value + [value[0]] * (node["maxItems"] + 1 - len(value))
    if node.get("uniqueItems") and value:
        yield "uniqueItems", [*value, value[0]]


def _outside_enum(value: Any, enum: list[Any]) -> Any:
    candidates: dict[str, Any] = {
        "string": "NotADocumentedValue",
        "integer": max([v for v in enum if json_type(v) == "integer"], default=0) + 1,
    }
    candidate = candidates.get(json_type(value), "NotADocumentedValue")
    return candidate if candidate not in enum else None


def location_mutations(walker: Walker, loc: Location) -> Iterator[tuple[str, Any]]:
    """(label, replacement value) pairs that break one constraint at ``loc``."""
    value = loc.value
    here = json_type(value)
    admitted = walker.admitted_types(loc.uri, loc.pointer)
    for wrong in JSON_TYPES:
        if wrong not in admitted and wrong != here:
            yield f"type={wrong}", TYPE_SAMPLES[wrong]
    for node in (n.schema for n in loc.chain):
        if isinstance(value, dict):
            for key in node.get("required", ()):
                if key in value:
                    yield f"required={key}", {k: v for k, v in value.items() if k != key}
        if "enum" in node:
            outside = _outside_enum(value, node["enum"])
            if outside is not None:
                yield "enum", outside
        if isinstance(value, str):
            yield from _broken_string(value, node)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield from _broken_number(value, node)
        elif isinstance(value, list):
            yield from _broken_array(value, node)


def mutants() -> list[Mutant]:
    if CONTRACTS is None:
        return []
    walker = Walker(CONTRACTS)
    out: list[Mutant] = []
    seen: set[tuple[str, str]] = set()  # a schema place is mutated once, in the first example reaching it
    for ex in examples():
        for loc in walker.walk(ex.op.uri, f"/$defs/{escape(ex.def_name)}", ex.instance):
            local = walker.validator(loc.uri, loc.pointer)
            wrong_types: list[tuple[str, Any]] = []
            for label, replacement in location_mutations(walker, loc):
                if (loc.key, label) in seen or local.is_valid(replacement):
                    continue  # covered by an earlier example, or not certainly invalid at this place
                seen.add((loc.key, label))
                variant = (label, set_at(ex.instance, loc.path, replacement))
                if label.startswith("type="):
                    wrong_types.append(variant)
                else:
                    out.append(Mutant(ex, loc.path, label, (variant,)))
            if wrong_types:
                out.append(Mutant(ex, loc.path, "wrong-types", tuple(wrong_types)))
    return out


@dataclass(frozen=True)
class ExtraProperty:
    example: Example
    path: tuple[str | int, ...]
    instance: Any
    strict_rejects: bool

    @property
    def id(self) -> str:
        verdict = "strict-rejects" if self.strict_rejects else "explicitly-allowed"
        return f"{self.example.id}{show_path(self.path)}:{verdict}"


def _allows_extra(node: dict[str, Any]) -> bool | None:
    """True/False when the schema says explicitly whether extra properties are allowed, else None."""
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if keyword in node:
            return node[keyword] is True or node[keyword] == {}
    return None


def extra_properties() -> list[ExtraProperty]:
    if CONTRACTS is None:
        return []
    walker = Walker(CONTRACTS)
    out: list[ExtraProperty] = []
    seen: set[tuple[str, str, str]] = set()
    for ex in examples():
        for loc in walker.walk(ex.op.uri, f"/$defs/{escape(ex.def_name)}", ex.instance):
            if not isinstance(loc.value, dict) or EXTRA_KEY in loc.value:
                continue
            with_properties = [n.schema for n in loc.chain if "properties" in n.schema]
            explicit = [_allows_extra(n.schema) for n in loc.chain if _allows_extra(n.schema) is not None]
            once = (ex.op.key, ex.def_name, loc.key)
            if not with_properties or False in explicit or once in seen:
                continue  # not an object model, or one that forbids extras in every mode
            seen.add(once)
            instance = set_at(ex.instance, (*loc.path, EXTRA_KEY), "extra")
            out.append(ExtraProperty(ex, loc.path, instance, strict_rejects=not explicit))
    return out


EXAMPLES = examples()
MUTANTS = mutants()
EXTRAS = extra_properties()


def _ids(items: list[Any]) -> list[str]:
    return [item.id for item in items]


# --- structure ---------------------------------------------------------------------------------------


def test_contracts_load() -> None:
    assert LOAD_ERROR is None, LOAD_ERROR


@pytest.mark.parametrize(
    ("api", "operation_id", "method", "path"), DOCUMENTED, ids=[f"{api}/{op}" for api, op, _, _ in DOCUMENTED]
)
def test_documented_operation_has_one_contract(api: str, operation_id: str, method: str, path: str) -> None:
    contracts = _contracts()
    if f"{api}:{operation_id}" not in contracts.operations:
        pytest.fail(f"no contract for {api} {operation_id}")
    op = contracts.get(api, operation_id)
    assert (op.method, op.path) == (method, path)
    assert _rel(op.file) == f"{api}/{operation_id}.json"
    assert op.uri == f"{ID_BASE}{api}/{operation_id}.json"
    same_route = [o.key for o in contracts.for_api(api) if (o.method, o.path) == (method, path)]
    assert same_route == [op.key], f"several contracts for {method} {path}: {same_route}"


def test_no_contract_file_is_unaccounted_for() -> None:
    expected = {f"{api}/{operation_id}.json" for api, operation_id, _, _ in DOCUMENTED}
    stray = []
    for path in _json_files():
        rel = _rel(path)
        if path.parent.name == MODELS_DIR and path.parent.parent == ROOT:
            family = path.stem
            if family not in API_FAMILY.values():
                stray.append(f"{rel} (no API family {family!r})")
        elif rel not in expected:
            stray.append(rel)
    assert not stray, f"contract files that document no operation: {stray}"


@pytest.mark.parametrize("path", _json_files(), ids=_rel)
def test_file_is_a_valid_2020_12_schema(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document.get("$schema") == DRAFT_2020_12
    assert document.get("$id") == ID_BASE + _rel(path)
    Draft202012Validator.check_schema(document)


@pytest.mark.parametrize("path", _json_files(), ids=_rel)
def test_every_ref_resolves(path: Path) -> None:
    contracts = _contracts()
    document = json.loads(path.read_text(encoding="utf-8"))
    resolver = contracts.registry.resolver(base_uri=document["$id"])
    unresolved = []
    refs = 0
    for pointer, node in subschemas(document):
        if isinstance(node.get("$ref"), str):
            refs += 1
            try:
                resolved = resolver.lookup(node["$ref"]).contents
            except Exception as exc:
                unresolved.append(f"{pointer or '/'}: {node['$ref']} ({type(exc).__name__})")
                continue
            if not isinstance(resolved, (dict, bool)):
                unresolved.append(f"{pointer or '/'}: {node['$ref']} is not a schema")
    assert not unresolved, unresolved


@pytest.mark.parametrize("op", _operations(), ids=lambda op: op.key)
def test_operation_metadata_is_consistent(op: Operation) -> None:
    defs = set(op.defs)
    assert op.request_body in ("none", "optional", "required")
    if op.request_body == "none":
        assert "requestBody" not in defs
    else:
        assert "requestBody" in defs and op.request_media_types
    assert op.responses, "no responses"
    for status, spec in op.responses.items():
        assert STATUS_KEY.match(status), status
        assert spec.body in ("json", "empty", "any"), (status, spec.body)
        has_schema = f"response-{status}" in defs
        assert (spec.body == "json") == has_schema, f"response-{status} vs body {spec.body}"
        assert spec.inferred is None or AMBIGUITY_ID.match(spec.inferred), spec.inferred
        if spec.body == "json":
            assert spec.media_types, status
    stray = {name for name in defs if name.startswith("response-")} - {f"response-{s}" for s in op.responses}
    assert not stray, f"response schemas for undocumented statuses: {stray}"
    names = set(re.findall(r"{([^}]+)}", op.path))
    path_schema = op.defs.get("pathParameters", {})
    assert set(path_schema.get("properties", {})) == names
    assert set(path_schema.get("required", [])) == names
    document = _contracts().documents[op.uri]
    for choice in document.get("x-choices", []):
        assert AMBIGUITY_ID.match(choice.get("ambiguity", "")), choice
        assert choice.get("choice"), choice


@pytest.mark.parametrize("op", _operations(), ids=lambda op: op.key)
def test_request_and_response_schemas_have_examples(op: Operation) -> None:
    wanted = [name for name in op.defs if name == "requestBody" or name.startswith("response-")]
    missing = [name for name in wanted if not (op.defs[name].get("examples") or [])]
    assert not missing, f"no examples on {missing}"


@pytest.mark.parametrize("op", _operations(), ids=lambda op: op.key)
def test_rule_ids_exist(op: Operation) -> None:
    rules = load_rules()
    assert op.rules, "x-rules is empty"
    assert len(set(op.rules)) == len(op.rules), "duplicate rule IDs"
    unknown = [rule for rule in op.rules if rule not in rules]
    assert not unknown, f"unknown rule IDs: {unknown}"
    foreign = [rule for rule in op.rules if rules[rule]["api"] != API_FAMILY[op.api]]
    assert not foreign, f"rules of another API: {foreign}"


# --- OpenAPI -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_openapi_document_is_valid_and_complete(api: str) -> None:
    document = openapi_document(api, _contracts())
    validate_openapi(document)
    found = {
        (method.upper(), path, operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert found == {(method, path, op_id) for a, op_id, method, path in DOCUMENTED if a == api}


@pytest.mark.parametrize("family", sorted(set(API_FAMILY.values())))
def test_every_model_is_reachable(family: str) -> None:
    contracts = _contracts()
    models = contracts.documents.get(f"{ID_BASE}{MODELS_DIR}/{family}.json")
    if models is None:
        pytest.fail(f"no models file for {family}")
    used: set[str] = set()
    for api in (a for a in APIS if API_FAMILY[a] == family):
        used |= set(openapi_document(api, contracts)["components"]["schemas"])
    unused = sorted(set(models.get("$defs", {})) - used)
    assert not unused, f"models no operation reaches: {unused}"


# --- examples and mutants ----------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=_ids(EXAMPLES))
def test_example_is_valid(example: Example) -> None:
    contracts = _contracts()
    assert contracts.validate(example.op, example.def_name, example.instance) == []
    assert contracts.validate(example.op, example.def_name, example.instance, strict=True) == [], (
        "the example uses keys the contract does not document"
    )


def test_mutants_were_generated() -> None:
    assert EXAMPLES, "no examples"
    covered = {m.example.op.key for m in MUTANTS}
    assert covered == {ex.op.key for ex in EXAMPLES}, "operations whose examples gave no mutant"


@pytest.mark.parametrize("mutant", MUTANTS, ids=_ids(MUTANTS))
def test_mutant_is_rejected(mutant: Mutant) -> None:
    ex = mutant.example
    contracts = _contracts()
    accepted = [
        (label, instance)
        for label, instance in mutant.variants
        if not contracts.validate(ex.op, ex.def_name, instance)
    ]
    assert not accepted, "accepted: " + "; ".join(
        f"{label}: {json.dumps(instance)[:300]}" for label, instance in accepted
    )


@pytest.mark.parametrize("extra", EXTRAS, ids=_ids(EXTRAS))
def test_strict_switch_on_extra_property(extra: ExtraProperty) -> None:
    contracts = _contracts()
    ex = extra.example
    assert contracts.validate(ex.op, ex.def_name, extra.instance) == [], "extra property rejected by default"
    strict_errors = contracts.validate(ex.op, ex.def_name, extra.instance, strict=True)
    if extra.strict_rejects:
        assert strict_errors, "strict validation accepted an undocumented property"
    else:
        assert strict_errors == [], "strict validation rejected a property the schema allows explicitly"


def test_strict_switch_covers_both_verdicts() -> None:
    if CONTRACTS is None:
        pytest.fail(f"contracts do not load: {LOAD_ERROR}")
    assert any(e.strict_rejects for e in EXTRAS), "no object model to reject extra properties on"
    assert any(not e.strict_rejects for e in EXTRAS), "no example of a model that allows extra properties"


# --- formats -----------------------------------------------------------------------------------------

FORMAT_CASES: list[tuple[str, Any, bool]] = [
    ("date-time", "2024-11-14T08:05:00Z", True),
    ("date-time", "2024-11-14T08:05:00.123456789+02:00", True),
    ("date-time", "2024-11-14t08:05:00z", True),
    ("date-time", "2024-11-14 08:05:00Z", False),
    ("date-time", "2024-11-14T08:05:00", False),
    ("date-time", "2024-13-01T00:00:00Z", False),
    ("date-time", 1731571200, True),  # formats only constrain strings
    ("date", "2024-02-29", True),
    ("date", "2023-02-29", False),
    ("date", "2024-2-9", False),
    ("date", "20240229", False),
    ("uuid", "6f1d2c3b-8a4e-4f5a-9b7c-0d1e2f3a4b5c", True),
    ("uuid", "6F1D2C3B-8A4E-4F5A-9B7C-0D1E2F3A4B5C", True),
    ("uuid", "6f1d2c3b8a4e4f5a9b7c0d1e2f3a4b5c", False),
    ("uuid", "{6f1d2c3b-8a4e-4f5a-9b7c-0d1e2f3a4b5c}", False),
    ("uuid", "not-a-uuid", False),
    ("byte", "aGVsbG8=", True),
    ("byte", "aGVsbG8", True),
    ("byte", "aGVs_G8-", True),
    ("byte", "", True),
    ("byte", "not base64!", False),
    ("byte", "a", False),
    ("duration", "18000s", True),
    ("duration", "1.5s", True),
    ("duration", "-3s", True),
    ("duration", "18000", False),
    ("duration", "5m", False),
    ("int32", 2**31 - 1, True),
    ("int32", 2**31, False),
    ("int32", -(2**31), True),
    ("int32", -(2**31) - 1, False),
    ("int64", 2**63 - 1, True),
    ("int64", 2**63, False),
    ("int64", "9223372036854775807", True),
    ("int64", "12a", False),
    ("uint32", 0, True),
    ("uint32", -1, False),
    ("uint32", 2**32, False),
    ("uint64", "18446744073709551615", True),
    ("uint64", "18446744073709551616", False),
    ("uint64", "-1", False),
]


@pytest.mark.parametrize(
    ("fmt", "value", "ok"),
    FORMAT_CASES,
    ids=[f"{f}:{v!r}:{'ok' if ok else 'bad'}" for f, v, ok in FORMAT_CASES],
)
def test_custom_format(fmt: str, value: Any, ok: bool) -> None:
    assert FORMATS.conforms(value, fmt) is ok


DOCUMENTED_FORMATS = ("date-time", "date", "uuid", "byte", "duration", "int32", "int64", "uint32", "uint64")


@pytest.mark.parametrize("fmt", DOCUMENTED_FORMATS)
def test_documented_format_is_registered(fmt: str) -> None:
    assert fmt in FORMATS.checkers


def test_contracts_use_only_checked_formats() -> None:
    """A format the suite does not check would be silently ignored."""
    contracts = _contracts()
    unchecked = set()
    for uri, document in contracts.documents.items():
        for pointer, node in subschemas(document):
            if "format" in node and node["format"] not in FORMATS.checkers:
                unchecked.add(f"{uri}#{pointer}: {node['format']}")
    assert not unchecked, sorted(unchecked)


# --- the Rust pre-check (contracts.conforms) ---------------------------------------------------------
# It may only short-cut a pass: never pass what the Python validator fails. Checked on every example,
# mutant and extra property above (whole documents, both modes), and on each format and pattern the
# contracts use, with the values where the two engines could differ.


def _python_valid(contracts: Contracts, op: Operation, def_name: str, instance: Any, strict: bool) -> bool:
    return not any(True for _ in contracts.validator(op, def_name, strict=strict).iter_errors(instance))


def _corpus() -> Iterator[tuple[str, Operation, str, Any]]:
    for ex in EXAMPLES:
        yield ex.id, ex.op, ex.def_name, ex.instance
    for mutant in MUTANTS:
        for label, instance in mutant.variants:
            yield f"{mutant.id}:{label}", mutant.example.op, mutant.example.def_name, instance
    for extra in EXTRAS:
        yield extra.id, extra.example.op, extra.example.def_name, extra.instance


def test_rust_precheck_agrees_on_every_example_and_mutant() -> None:
    contracts = _contracts()
    checked = passed = 0
    for name, op, def_name, instance in _corpus():
        for strict in (False, True):
            fast = contracts.conforms(op, def_name, instance, strict=strict)
            assert fast == _python_valid(contracts, op, def_name, instance, strict), (name, strict)
            checked += 1
            passed += fast
    assert passed and checked - passed, "the corpus has both verdicts"


_ENGINE_EDGES: list[Any] = [
    "",
    "0",
    "007",
    "123\n",  # Python's `$` matches before a final newline
    "\u0663\u0664",  # Arabic-Indic digits: Python's `\d`, not Rust's
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "2024-11-14T08:05:00Z",
    "2024-11-14T08:05:00.123Z",
    "2024-11-14T08:05:00.1234Z",
    "2024-11-14T08:05:00+02:00",
    "2024-11-14T08:05:60Z",
    "2024-11-14t08:05:00z",
    "0001-01-01T00:00:00Z",
    "2024-02-30",
    "2024-02-29",
    "6F1D2C3B-8A4E-4F5A-9B7C-0D1E2F3A4B5C",
    "{6f1d2c3b-8a4e-4f5a-9b7c-0d1e2f3a4b5c}",
    "aGVsbG8=",
    "aGVs_G8-",
    "AB==",
    "18000s",
    "0.5s",
    "0.000000001s",
    "1.5",
    2**31,
    -(2**31) - 1,
    2**63,
    2**64,
    -1,
    1.0,
    1e20,
    True,
    None,
]


def _leaf_schemas() -> list[dict[str, Any]]:
    """Every distinct schema node of the contracts that carries a format or a pattern."""
    contracts = _contracts()
    found: dict[str, dict[str, Any]] = {}
    for document in contracts.documents.values():
        for _, node in subschemas(document):
            if "format" in node or "pattern" in node:
                leaf = {k: v for k, v in node.items() if k not in ("description", "examples", "$ref")}
                found.setdefault(json.dumps(leaf, sort_keys=True), leaf)
    return list(found.values())


def test_rust_precheck_never_passes_what_python_fails_on_formats_and_patterns() -> None:
    import jsonschema_rs
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from session_conformance.contracts import _RS_FORMATS, _rs_ready

    leaves = _leaf_schemas()
    assert len(leaves) >= 10
    pairs = [
        (
            leaf,
            jsonschema_rs.Draft202012Validator(_rs_ready(leaf), formats=_RS_FORMATS, validate_formats=True),
            Draft202012Validator(leaf, format_checker=FORMATS),
        )
        for leaf in leaves
    ]
    for leaf, fast, slow in pairs:
        for value in _ENGINE_EDGES:
            assert not (fast.is_valid(value) and not slow.is_valid(value)), (leaf, value)
    values = st.one_of(
        st.text(),
        st.text(alphabet="0123456789-+:.TZtz=/sAB\n", max_size=40),
        st.integers(),
        st.floats(allow_nan=False),
        *(st.from_regex(leaf["pattern"]) for leaf in leaves if "pattern" in leaf),
    )

    @settings(max_examples=400, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=values)
    def never_laxer(value: Any) -> None:
        for leaf, fast, slow in pairs:
            assert not (fast.is_valid(value) and not slow.is_valid(value)), (leaf, value)

    never_laxer()

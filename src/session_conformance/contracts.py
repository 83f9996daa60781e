"""Load the JSON Schema contracts, validate instances against them, assemble OpenAPI documents.

Everything downstream (the embedded server, the suites, the reports) reads the contracts through
this module; the file format is described in ``contracts/README.md``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from session_conformance.apis import APIS, FAMILIES, family

if TYPE_CHECKING:  # imported where the pre-check is built: the report's lean env has no jsonschema_rs
    import jsonschema_rs

MODELS_DIR = "models"
RULES_FILE = "rules.json"
API_TITLES = {api.name: (api.title, api.version) for fam in FAMILIES for api in fam.apis}


def contracts_dir() -> Path:
    """The contracts folder: the repository's own in a checkout, the packaged copy in a wheel."""
    checkout = Path(__file__).resolve().parents[2] / "contracts"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "_contracts"


@dataclass(frozen=True)
class ResponseSpec:
    status: str  # "200", "400", ... or "default"
    description: str
    body: str  # "json", "empty" or "any"
    media_types: tuple[str, ...]
    inferred: str | None = None  # ambiguity ID when the status itself is our choice


@dataclass(frozen=True)
class Operation:
    api: str
    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    rules: tuple[str, ...]
    uri: str  # the contract's $id
    file: Path
    request_body: str  # "none", "optional" or "required"
    request_media_types: tuple[str, ...]
    responses: dict[str, ResponseSpec]
    defs: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        return f"{self.api}:{self.operation_id}"

    def def_uri(self, name: str) -> str:
        return f"{self.uri}#/$defs/{name}"

    def response_spec(self, status: int) -> ResponseSpec | None:
        """The documented response for a status: exact code, then ``NXX`` ranges, then ``default``."""
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in self.responses:
                return self.responses[key]
        return None

    def has_def(self, name: str) -> bool:
        return name in self.defs


# --- formats -------------------------------------------------------------------------------------

FORMATS = FormatChecker()
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
_INT_BOUNDS = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    date.fromisoformat(value)
    return True


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return str(uuid.UUID(value)) == value.lower() and len(value) == 36


@FORMATS.checks("byte", raises=(ValueError, binascii.Error))
def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return True
    padded = value + "=" * (-len(value) % 4)
    alphabet = "-_" if ("-" in value or "_" in value) else "+/"
    base64.b64decode(padded, altchars=alphabet.encode(), validate=True)
    return True


@FORMATS.checks("duration")
def _is_duration(value: object) -> bool:
    return not isinstance(value, str) or bool(_DURATION.match(value))


def _int_format(name: str) -> None:
    low, high = _INT_BOUNDS[name]

    @FORMATS.checks(name)
    def check(value: object) -> bool:
        if isinstance(value, bool):
            return True
        if isinstance(value, str):  # protojson 64-bit integers travel as decimal strings
            if not re.fullmatch(r"-?\d+", value):
                return False
            value = int(value)
        return not isinstance(value, int) or low <= value <= high


for _name in _INT_BOUNDS:
    _int_format(_name)


# --- loading -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # identity hash: validators are cached per instance
class Contracts:
    root: Path
    operations: dict[str, Operation]  # keyed by "api:operationId"
    documents: dict[str, dict[str, Any]]  # every loaded file by $id (contracts and models)
    registry: Registry
    strict_registry: Registry

    def for_api(self, api: str) -> list[Operation]:
        return [op for op in self.operations.values() if op.api == api]

    def get(self, api: str, operation_id: str) -> Operation:
        return self.operations[f"{api}:{operation_id}"]

    def find(self, api: str, method: str, path: str) -> Operation:
        for op in self.for_api(api):
            if op.method == method.upper() and op.path == path:
                return op
        raise KeyError(f"{api}: no contract for {method} {path}")

    def validator(self, op: Operation, def_name: str, *, strict: bool = False) -> Draft202012Validator:
        return _validator(self, op.def_uri(def_name), strict)

    def conforms(self, op: Operation, def_name: str, instance: Any, *, strict: bool = False) -> bool:
        """True when ``instance`` certainly conforms (the Rust pre-check); False: ask ``validator``."""
        fast = _fast_validator(self, op.def_uri(def_name), strict)
        try:
            return fast is not None and fast.is_valid(instance)
        except Exception:  # a value the Rust side cannot take (not JSON): the full validator decides
            return False

    def validate(self, op: Operation, def_name: str, instance: Any, *, strict: bool = False) -> list[str]:
        """Validate ``instance`` against one of the contract's ``$defs``; return readable errors."""
        if self.conforms(op, def_name, instance, strict=strict):
            return []
        errors = sorted(
            self.validator(op, def_name, strict=strict).iter_errors(instance),
            key=lambda e: list(e.absolute_path),
        )
        return [_describe(error) for error in errors]

    def validate_response(self, op: Operation, status: int, body: Any, *, strict: bool = False) -> list[str]:
        spec = op.response_spec(status)
        if spec is None:
            return [f"status {status} is not documented for {op.operation_id}"]
        name = f"response-{spec.status}"
        if spec.body != "json" or not op.has_def(name):
            return []
        return self.validate(op, name, body, strict=strict)

    def digest(self) -> str:
        """SHA-256 over every contract file, so a report names exactly the contracts it used."""
        sha = hashlib.sha256()
        for path in sorted(self.root.rglob("*.json")):
            sha.update(path.relative_to(self.root).as_posix().encode())
            sha.update(path.read_bytes())
        return sha.hexdigest()


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


@cache
def _validator(contracts: Contracts, uri: str, strict: bool) -> Draft202012Validator:
    registry = contracts.strict_registry if strict else contracts.registry
    return Draft202012Validator({"$ref": uri}, registry=registry, format_checker=FORMATS)


# --- the Rust pre-check --------------------------------------------------------------------------
# jsonschema (Python) validates every response of a run and costs more per request than anything else
# of ours (docs/decisions/bench.md F15). jsonschema_rs answers "valid?" for a fraction of that; it only
# ever short-cuts a pass: any other answer goes to the Python validator, which gives every failure and
# its message as before. So the pre-check must never pass what the Python validator fails: it uses the
# Python checkers for every format (Rust calls them for strings only, so the integer formats' bounds on
# numbers are spelled out as minimum/maximum), and where the engines differ otherwise the Rust side is
# the stricter one (its `\d` is ASCII, its `$` does not match before a final newline).

# Values, not schemas: never rewritten. Under the name maps every value is a schema, whatever its name.
_DATA_KEYWORDS = frozenset({"enum", "const", "examples", "example", "default"})
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def _rs_ready(node: Any) -> Any:
    """A schema for the Rust pre-check: the integer formats' bounds on numbers spelled out."""
    if isinstance(node, list):
        return [_rs_ready(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key in _NAME_MAPS and isinstance(value, dict):
            out[key] = {name: _rs_ready(schema) for name, schema in value.items()}
        else:
            out[key] = _rs_ready(value)
    fmt = out.get("format")
    bounds = _INT_BOUNDS.get(fmt) if isinstance(fmt, str) else None
    if bounds is not None:
        low, high = bounds
        check = {"if": {"type": "integer"}, "then": {"minimum": low, "maximum": high}}
        out["allOf"] = [*out.get("allOf", []), check]
    return out


_RS_FORMATS: dict[str, Callable[..., bool]] = {
    name: partial(FORMATS.conforms, format=name) for name in FORMATS.checkers
}


@cache
def _rs_registry(contracts: Contracts, strict: bool) -> jsonschema_rs.Registry:
    import jsonschema_rs

    transform = _strictify if strict else (lambda doc: doc)
    resources = [(uri, _rs_ready(transform(doc))) for uri, doc in contracts.documents.items()]
    return jsonschema_rs.Registry(resources, draft=jsonschema_rs.Draft202012)


@cache
def _fast_validator(contracts: Contracts, uri: str, strict: bool) -> jsonschema_rs.Validator | None:
    import jsonschema_rs

    try:
        return jsonschema_rs.Draft202012Validator(
            {"$ref": uri},
            registry=_rs_registry(contracts, strict),
            formats=_RS_FORMATS,
            validate_formats=True,
        )
    except Exception:  # a schema the Rust side does not take: the Python validator alone
        return None


def _strictify(node: Any) -> Any:
    """Strict switch: object schemas that list properties reject properties the docs do not list.

    Schemas that say anything explicit about extra properties (e.g. ProblemDetails, protobufAny,
    maps) are left alone.
    """
    if isinstance(node, list):
        return [_strictify(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strictify(value) for key, value in node.items()}
    if "properties" in out and not ({"additionalProperties", "unevaluatedProperties"} & out.keys()):
        out["unevaluatedProperties"] = False
    return out


def _iter_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.json")):
        if path.name != RULES_FILE:
            yield path


@cache
def load_contracts(root: Path | None = None) -> Contracts:
    root = root or contracts_dir()
    documents: dict[str, dict[str, Any]] = {}
    operations: dict[str, Operation] = {}
    for path in _iter_files(root):
        document = json.loads(path.read_text(encoding="utf-8"))
        documents[document["$id"]] = document
        if path.parent.name == MODELS_DIR:
            continue
        meta = document["x-operation"]
        op = Operation(
            api=meta["api"],
            operation_id=meta["operationId"],
            method=meta["method"].upper(),
            path=meta["path"],
            summary=meta.get("summary", document.get("title", "")),
            description=document.get("description", ""),
            rules=tuple(document.get("x-rules", ())),
            uri=document["$id"],
            file=path,
            request_body=document.get("x-request", {}).get("body", "none"),
            request_media_types=tuple(document.get("x-request", {}).get("mediaTypes", ())),
            responses={
                status: ResponseSpec(
                    status=status,
                    description=spec.get("description", ""),
                    body=spec.get("body", "json"),
                    media_types=tuple(spec.get("mediaTypes", ("application/json",))),
                    inferred=spec.get("inferred"),
                )
                for status, spec in document["x-responses"].items()
            },
            defs=document.get("$defs", {}),
        )
        if op.key in operations:
            raise ValueError(f"two contracts for {op.key}: {operations[op.key].file} and {path}")
        operations[op.key] = op

    def registry_of(transform: Any) -> Registry:
        resources = [
            (uri, Resource.from_contents(transform(doc), default_specification=DRAFT202012))
            for uri, doc in documents.items()
        ]
        return Registry().with_resources(resources).crawl()

    return Contracts(
        root=root,
        operations=operations,
        documents=documents,
        registry=registry_of(lambda doc: doc),
        strict_registry=registry_of(_strictify),
    )


@cache
def load_rules(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The rule catalogue (``contracts/rules.json``), keyed by rule ID."""
    data = json.loads(((root or contracts_dir()) / RULES_FILE).read_text(encoding="utf-8"))
    return {rule["id"]: rule for rule in data["rules"]}


# --- OpenAPI assembly ----------------------------------------------------------------------------


class _Assembler:
    """Rewrites contract ``$ref``s for one OpenAPI document.

    References into ``contracts/models/*`` become ``#/components/schemas/<Name>`` (each model is
    emitted once); references into a contract's own ``$defs`` are inlined.
    """

    def __init__(self, contracts: Contracts) -> None:
        self.contracts = contracts
        self.components: dict[str, Any] = {}

    def _target(self, base: str, ref: str) -> tuple[str, str]:
        uri, fragment = urldefrag(urljoin(base, ref))
        return uri, fragment

    def rewrite(self, node: Any, base: str) -> Any:
        if isinstance(node, list):
            return [self.rewrite(item, base) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            uri, fragment = self._target(base, node["$ref"])
            rest = {k: self.rewrite(v, base) for k, v in node.items() if k != "$ref"}
            document = self.contracts.documents[uri]
            name = fragment.removeprefix("/$defs/")
            if "x-operation" not in document:  # a shared model
                self._emit(uri, name)
                return {"$ref": f"#/components/schemas/{name}", **rest}
            return {**self.rewrite(document["$defs"][name], uri), **rest}
        return {k: self.rewrite(v, base) for k, v in node.items() if k not in ("$schema", "$id")}

    def _emit(self, uri: str, name: str) -> None:
        if name in self.components:
            return
        self.components[name] = {}  # placeholder breaks recursion
        self.components[name] = self.rewrite(self.contracts.documents[uri]["$defs"][name], uri)


def _parameters(op: Operation, assembler: _Assembler, where: str) -> list[dict[str, Any]]:
    schema = op.defs.get(f"{where}Parameters")
    if not schema:
        return []
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": assembler.rewrite(prop, op.uri),
        }
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


def openapi_document(api: str, contracts: Contracts | None = None) -> dict[str, Any]:
    """One OpenAPI 3.1 document for ``api``, assembled from its contracts (what Schemathesis reads)."""
    if api not in APIS:
        raise ValueError(f"unknown API {api!r}; choose one of {', '.join(APIS)}")
    contracts = contracts or load_contracts()
    assembler = _Assembler(contracts)
    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(contracts.for_api(api), key=lambda o: (o.path, o.method)):
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": op.description,
            "x-rules": list(op.rules),
            "x-contract": op.file.relative_to(contracts.root).as_posix(),
            "security": [{"bearer": []}],
            "responses": {},
        }
        parameters = _parameters(op, assembler, "path") + _parameters(op, assembler, "query")
        if parameters:
            operation["parameters"] = parameters
        if op.request_body != "none":
            body_schema = assembler.rewrite(op.defs["requestBody"], op.uri)
            operation["requestBody"] = {
                "required": op.request_body == "required",
                "content": {mt: {"schema": copy.deepcopy(body_schema)} for mt in op.request_media_types},
            }
        for status, spec in op.responses.items():
            response: dict[str, Any] = {"description": spec.description or status}
            if spec.body == "json":
                schema = assembler.rewrite(op.defs[f"response-{status}"], op.uri)
                response["content"] = {mt: {"schema": copy.deepcopy(schema)} for mt in spec.media_types}
            operation["responses"][status] = response
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    title, version = API_TITLES[api]
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": title,
            "version": version,
            "description": f"Assembled by session-conformance from contracts/{api}/ "
            f"(contracts digest {contracts.digest()[:12]}).",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(assembler.components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


# --- what an operation does ----------------------------------------------------------------------

# reads sent as POST: REST searches, and RPC procedures named Get*/List* (Connect: every call is a POST)
_READ_POSTS = re.compile(r"/(search|results|list)/?$|/(Get|List)[A-Z]\w*$")


def is_write(op: Operation) -> bool:
    """Whether an operation creates, changes or deletes something (refused under ``--read-only``).

    Every PATCH/PUT/DELETE, and every POST except the reads sent as POST (``.../search``, ``.../results``).
    """
    return op.method in ("PATCH", "PUT", "DELETE") or (
        op.method == "POST" and not _READ_POSTS.search(op.path)
    )


def is_create(op: Operation) -> bool:
    """A session create (Trinsic widget, hosted, advanced; Zitadel create)."""
    return family(op.api).is_create(op.method, op.path)


class _WriteKeys:
    """``op.key in WRITE_OPERATIONS``: the write operations among the loaded contracts."""

    def __contains__(self, key: object) -> bool:
        op = load_contracts().operations.get(str(key))
        return op is not None and is_write(op)


WRITE_OPERATIONS = _WriteKeys()


class OperationIndex:
    """Finds the contract operation of a request (literal path segments win over parameters)."""

    def __init__(self, contracts: Contracts) -> None:
        entries = []
        for op in contracts.operations.values():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path)) + "/?$"
            entries.append((op.path.count("{"), re.compile(pattern), op))
        entries.sort(key=lambda entry: entry[0])
        self._entries = entries

    def match(self, method: str, rel_path: str) -> Operation | None:
        for _, pattern, op in self._entries:
            if op.method == method.upper() and pattern.match(rel_path):
                return op
        return None

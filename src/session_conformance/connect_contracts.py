"""Generates the Zitadel Connect contracts from the REST contracts and the shared models (never by hand).

``contracts/zitadel-v2-connect/`` and ``contracts/zitadel-v2beta-connect/`` hold one contract per RPC,
derived here from ``contracts/zitadel-v2{,beta}/`` (same models, same rules where the Connect sheet §6
says "same"): POST to ``/<package>.SessionService/<Method>``, the whole request message as the body
(path and query parameters move into it), 200 on every success, errors as the Connect error object
(``ConnectError`` in ``models/zitadel.json``) with the codes of the HTTP status, 415 without a body.

``python -m session_conformance.connect_contracts`` rewrites the files; ``--check`` exits 1 when they
are out of date (``tests/test_connect_contracts.py`` runs the check).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from session_conformance.apis.zitadel import HTTP_OF_GRPC
from session_conformance.apis.zitadel_connect import CONNECT_NAMES, connect_service
from session_conformance.contracts import contracts_dir

BASE = "https://session-conformance.dev/contracts"
MODELS_REF = "../models/zitadel.json#"
ERROR_REF = MODELS_REF + "/$defs/ConnectError"
SOURCES = {"zitadel-v2-connect": ("zitadel-v2", "v2"), "zitadel-v2beta-connect": ("zitadel-v2beta", "v2beta")}
# what only Connect adds to every RPC's rules (ZTD-R02/R04 are the gateway's: Connect sheet §6)
CONNECT_RULES = ("ZTD-T01", "ZTD-T03", "ZTD-T04", "ZTD-T05", "ZTD-T06", "ZTD-X02")
REST_ONLY_RULES = ("ZTD-R02", "ZTD-R04")
CHOICES = [
    {
        "ambiguity": "C03",
        "choice": "Connect-Protocol-Version is optional (Zitadel does not require it; the SDK never "
        "sends it); the suites send 1.",
    },
    {
        "ambiguity": "C05",
        "choice": "details[].type is the bare proto name; a type.googleapis.com/ prefix warns.",
    },
    {"ambiguity": "C06", "choice": "details[].debug is optional and never required."},
    {
        "ambiguity": "C07",
        "choice": "Error codes map to HTTP statuses by the current Connect table (2024-03).",
    },
]


def _codes_of(status: str) -> list[str]:
    return [CONNECT_NAMES[code] for code, http in sorted(HTTP_OF_GRPC.items()) if str(http) == status]


def _model_refs(node: Any) -> Any:
    """A model's schema as seen from a contract: its local ``#/$defs/...`` refs point into the models file."""
    if isinstance(node, list):
        return [_model_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: (MODELS_REF + value[1:] if key == "$ref" and value.startswith("#/") else _model_refs(value))
        for key, value in node.items()
    }


def _request_body(rpc: str, rest: dict[str, Any], models: dict[str, Any]) -> dict[str, Any]:
    """The whole request message: the REST body, plus what REST carries in the path and the query.

    The body model's members are merged with the moved parameters into one object schema (not an
    ``allOf``), so that the strict switch sees every member of the message in one place.
    """
    defs = rest["$defs"]
    moved: dict[str, Any] = {}
    for where in ("pathParameters", "queryParameters"):
        moved |= copy.deepcopy(defs.get(where, {}).get("properties", {}))
    required = sorted(defs.get("pathParameters", {}).get("required", []))
    if rpc == "GetSession":
        # C08: ≈v4.0 has no rule on GetSessionRequest.sessionId (an empty one reaches the query)
        moved["sessionId"].pop("minLength", None)
        required = []
    body = copy.deepcopy(defs.get("requestBody"))
    if not moved:
        return body  # CreateSession, ListSessions: the same JSON object as over REST
    node: dict[str, Any] = {"type": "object", "properties": moved}
    examples: list[Any] = [{}]
    if body is not None:
        model = models[body["$ref"].rsplit("/", 1)[1]]
        node = {**_model_refs(copy.deepcopy(model)), **node}
        node["properties"] = {**moved, **node.get("properties", {}), **_model_refs(model["properties"])}
        node["description"] = f"{rpc}Request: {model.get('description', '')} Over Connect with the sessionId."
        examples = [ex for ex in body.get("examples", []) if isinstance(ex, dict)] or [{}]
    if required:
        node["required"] = required
    sample = {"sessionId": "222430354126975533"}
    if rpc == "GetSession":
        sample["sessionToken"] = (
            "kQOtBn_8nD7yq0oo0hTdSMeX8w9W6WlKZBOr0Tv9A5Lw0fZc0Ye7sGqQn0yOa6C4ndF0t6C_3X6ZzUo2x1gQ"
        )
    node["examples"] = [{**sample, **ex} for ex in examples]
    return node


def _error_def(status: str) -> dict[str, Any]:
    names = _codes_of(status) if status != "default" else ["resource_exhausted", "internal", "unavailable"]
    examples = [{"code": name, "message": f"Errors.Example ({name.upper()[:5]}-x1y2z)"} for name in names]
    if status == "default":
        return {"$ref": ERROR_REF, "examples": examples}
    return {
        "$ref": ERROR_REF,
        "properties": {"code": {"enum": names, "description": f"Connect code(s) of HTTP {status}."}},
        "examples": examples,
    }


def derive(api: str, rest: dict[str, Any], models: dict[str, Any]) -> dict[str, Any]:
    """The Connect contract of ``api`` for one REST contract."""
    _, version = SOURCES[api]
    meta = rest["x-operation"]
    operation_id = meta["operationId"]
    rpc = operation_id.removeprefix("SessionService_")
    create = rpc == "CreateSession"
    rules = [r for r in rest["x-rules"] if r not in REST_ONLY_RULES]
    rules += [r for r in (*CONNECT_RULES, *(("ZTD-T02",) if create else ())) if r not in rules]
    responses: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    for status, spec in rest["x-responses"].items():
        spec = copy.deepcopy(spec)
        if status.startswith("2"):
            responses["200"] = {**spec, "description": spec["description"].replace("201", "200")}
            defs["response-200"] = copy.deepcopy(rest["$defs"][f"response-{status}"])
            continue
        names = ", ".join(_codes_of(status)) if status != "default" else "per the Connect status table"
        spec["description"] = (
            f"A Connect error object (code {names}; ZTD-T01). Over REST: {spec['description']}"
        )
        if status == "400":
            spec.pop("inferred", None)  # decode errors are a fact over Connect, not a reading
        responses[status] = spec
        defs[f"response-{status}"] = _error_def(status)
    if "400" not in responses:
        responses["400"] = {"description": "A body Connect cannot decode (ZTD-T05).", "body": "json"}
        defs["response-400"] = _error_def("400")
    responses["415"] = {
        "description": "A missing or unsupported Content-Type (ZTD-T03): no body, Accept-Post set.",
        "body": "empty",
        "mediaTypes": [],
    }
    ordered = dict(sorted(responses.items(), key=lambda item: (item[0] == "default", item[0])))
    service = connect_service(version)
    document = {
        "$schema": rest["$schema"],
        "$id": f"{BASE}/{api}/{operation_id}.json",
        "title": rest["title"].replace("Service v2", "Service v2 over Connect", 1)
        if "v2beta" not in rest["title"]
        else rest["title"].replace("v2beta", "v2beta over Connect", 1),
        "description": f"{rest['description']} Over Connect: POST {service}/{rpc}, the whole request message "
        "as the JSON body. Generated by session_conformance.connect_contracts from "
        f"contracts/{SOURCES[api][0]}/{operation_id}.json.",
        "x-operation": {
            "api": api,
            "operationId": operation_id,
            "method": "POST",
            "path": f"{service}/{rpc}",
            "summary": meta.get("summary", ""),
        },
        "x-rules": rules,
        "x-request": {"body": "required", "mediaTypes": ["application/json"]},
        "x-responses": ordered,
        "x-choices": [*rest.get("x-choices", []), *CHOICES],
        "$defs": {"requestBody": _request_body(rpc, rest, models), **{k: defs[k] for k in sorted(defs)}},
    }
    return document


def generated(root: Path | None = None) -> dict[Path, str]:
    """Every Connect contract file with the text it must have."""
    root = root or contracts_dir()
    out: dict[Path, str] = {}
    models = json.loads((root / "models" / "zitadel.json").read_text(encoding="utf-8"))["$defs"]
    for api, (source, _) in SOURCES.items():
        for path in sorted((root / source).glob("*.json")):
            rest = json.loads(path.read_text(encoding="utf-8"))
            text = json.dumps(derive(api, rest, models), indent=2, ensure_ascii=False) + "\n"
            out[root / api / path.name] = text
    return out


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for path, text in generated().items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if check and stale:
        print(
            "out of date (run python -m session_conformance.connect_contracts): " + ", ".join(map(str, stale))
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

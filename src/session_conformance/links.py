"""OpenAPI links derived from the contracts, so that Schemathesis can chain create → read/change/delete.

A link goes from every operation whose 2xx body has ``sessionId`` (the creates) to every operation of
the same API that takes a ``sessionId`` / ``acceptanceSessionId`` path parameter, and carries what the
target needs on top: the Zitadel ``sessionToken`` (query or body), the Trinsic results access key
of advanced sessions (body), and, for a search operation, an ``idsQuery`` with the new ID.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

SESSION_PATH_PARAMETERS = ("sessionId", "acceptanceSessionId")
_METHODS = ("get", "put", "post", "delete", "patch")


def _resolve(document: dict[str, Any], schema: Any, depth: int = 0) -> dict[str, Any]:
    """Follow local ``$ref``s (and merge ``allOf``) far enough to see an object's properties."""
    if not isinstance(schema, dict) or depth > 20:
        return {}
    if "$ref" in schema and isinstance(schema["$ref"], str) and schema["$ref"].startswith("#/"):
        node: Any = document
        for part in schema["$ref"][2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        merged = {**_resolve(document, node, depth + 1), **{k: v for k, v in schema.items() if k != "$ref"}}
        return merged
    if "allOf" in schema:
        out: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        props: dict[str, Any] = dict(schema.get("properties", {}))
        for part in schema["allOf"]:
            props.update(_resolve(document, part, depth + 1).get("properties", {}))
        out["properties"] = props
        return out
    return schema


def _properties(document: dict[str, Any], schema: Any) -> dict[str, Any]:
    return dict(_resolve(document, schema).get("properties", {}))


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                yield path, method, item[method]


def _success_schema(operation: dict[str, Any]) -> tuple[str, Any] | None:
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            for media in response.get("content", {}).values():
                if "schema" in media:
                    return status, media["schema"]
    return None


def _body_properties(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if "schema" in media:
            return _properties(document, media["schema"])
    return {}


def _link_for(
    document: dict[str, Any], producer_props: dict[str, Any], consumer: dict[str, Any], path: str
) -> dict[str, Any] | None:
    parameters: dict[str, str] = {}
    for param in consumer.get("parameters", []):
        if param.get("in") == "path" and param.get("name") in SESSION_PATH_PARAMETERS:
            parameters[f"path.{param['name']}"] = "$response.body#/sessionId"
        elif (
            param.get("in") == "query"
            and param.get("name") == "sessionToken"
            and "sessionToken" in producer_props
        ):
            parameters["query.sessionToken"] = "$response.body#/sessionToken"
    body_props = _body_properties(document, consumer)
    body: dict[str, Any] = {}
    if "sessionToken" in body_props and "sessionToken" in producer_props:
        body["sessionToken"] = "$response.body#/sessionToken"
    if "resultsAccessKey" in body_props and "resultCollection" in producer_props:
        body["resultsAccessKey"] = "$response.body#/resultCollection/resultsAccessKey"
    if not parameters and path.rstrip("/").endswith("/search") and "queries" in body_props:
        body["queries"] = [{"idsQuery": {"ids": ["$response.body#/sessionId"]}}]
    if not parameters and not body.get("queries"):
        return None
    link: dict[str, Any] = {"operationId": consumer["operationId"]}
    if parameters:
        link["parameters"] = parameters
    if body:
        link["requestBody"] = body
    return link


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of an assembled OpenAPI document with links from creates to the operations on a session."""
    document = copy.deepcopy(document)
    operations = list(_operations(document))
    for _, _, producer in operations:
        found = _success_schema(producer)
        if found is None:
            continue
        status, schema = found
        producer_props = _properties(document, schema)
        if "sessionId" not in producer_props:
            continue
        links: dict[str, Any] = {}
        for path, _, consumer in operations:
            if consumer is producer or "operationId" not in consumer:
                continue
            link = _link_for(document, producer_props, consumer, path)
            if link is not None:
                links[consumer["operationId"]] = link
        if links:
            producer["responses"][status].setdefault("links", {}).update(links)
    return document

"""Target discovery: which of the selected APIs a live target does not serve (skipped, never failed).

Some APIs exist only on some releases of a target (Zitadel's Connect transport: v4 and later, C01).
For each such API (its family's ``optional_apis``) the family's pre-flight probe is sent once; the
family reads the answer (``unserved``) and names why the API is skipped, in one line.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from session_conformance.apis import family_of_api
from session_conformance.transport import make_httpx_client


def unserved_apis(base_url: str, token: str | None, apis: Iterable[str], *, timeout: float) -> dict[str, str]:
    """``{api: reason}`` for every optional API among ``apis`` that the target does not serve."""
    optional = [api for api in apis if api in family_of_api(api).optional_apis]
    if not optional:
        return {}
    found: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with make_httpx_client(base_url, timeout=timeout) as http:
        for api in optional:
            probe = family_of_api(api).probe(api)
            try:
                response = http.request(
                    probe.method, probe.path, params=probe.params, json=probe.json, headers=headers
                )
            except httpx.HTTPError:
                continue  # unreachable is the pre-flight's business, not a reason to skip
            reason = family_of_api(api).unserved(
                api, response.status_code, response.headers.get("content-type", "")
            )
            if reason is not None:
                found[api] = reason
    return found

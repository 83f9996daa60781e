"""What a test account still holds after a run (the project's tests import it from ``tests/``)."""

from __future__ import annotations

import httpx


def left_behind(url: str, token: str) -> list[str]:
    """Open Trinsic sessions and listed Zitadel sessions of the account."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        left: list[str] = []
        page = 1
        while True:
            listed = http.get("/api/v1/sessions/list", params={"PageSize": 50, "Page": page}).json()
            left += [s["id"] for s in listed.get("sessions", []) if not s.get("done")]
            if not listed.get("more"):
                break
            page += 1
        for prefix in ("/v2", "/v2beta"):
            found = http.post(f"{prefix}/sessions/search", json={"query": {"limit": 1000}}).json()
            left += [s["id"] for s in found.get("sessions", [])]
        return left

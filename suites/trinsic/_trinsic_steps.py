"""Steps shared by the Trinsic semantic suites.

Everything talks to the target through the plugin's ``ConformanceClient`` and fails a check only
through ``session_conformance.harness`` (``expect``, ``expect_status``, ``json_of``). A helper that
*sets up* a check (creating a session, reading it back) blames the rule that makes the step legitimate
(usually TRN-R04: a valid call answers 200 with its model), so a broken target is reported under a
documented rule and never as a suite error.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, settings

from session_conformance.harness import (
    ConformanceClient,
    Exchange,
    Profile,
    ProviderState,
    Target,
    expect,
    expect_status,
    json_of,
    shown,
    warn,
    warn_status,
)

PREFIX = "/api/v1/sessions"
FINISHED = "trinsic session finished"
LOOKUP_PROVIDER = "f-indonesia-nik"  # a provider the sheet names (3.20); needs providerInput.indonesiaNik
PROVIDER_OPTION = "--trinsic-provider / CONFORMANCE_TRINSIC_PROVIDER"
# The media types a Trinsic answer may carry its JSON in (fact sheet 1, A-21), ProblemDetails' own too.
JSON_MEDIA_TYPES = ("application/json", "text/json", "text/plain", "application/problem+json")

ERROR_CODES = (
    "Internal",
    "Other",
    "Canceled",
    "UserAbandoned",
    "UserTimedOut",
    "Expired",
    "InvalidImage",
    "Inauthentic",
    "UnsupportedDocument",
    "AssuranceLevelNotMet",
)
CAPABILITIES = (
    "LaunchBrowser",
    "DeeplinkToMobile",
    "ShowContent",
    "RefreshStepContent",
    "CaptureRedirect",
    "PollResult",
)
LAUNCH_METHODS = ("LaunchBrowser", "PollResult", "DeeplinkToMobile", "ShowContent")
COLLECTION_METHODS = ("PollResult", "CaptureRedirect")
ORDERINGS = ("Created", "Updated", "State")
DIRECTIONS = ("Ascending", "Descending")
HOSTED_FLOW = ["LaunchBrowser", "CaptureRedirect"]
REDIRECT_URL = "https://conformance.example/trinsic/done"
VALID_NIK = {"fullName": "Ada Lovelace", "dateOfBirth": "1815-12-10", "nikIdNumber": "3174012345678901"}
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def is_absolute_url(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def is_uuid(text: Any) -> bool:
    try:
        return isinstance(text, str) and len(text) == 36 and str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def has_uri_scheme(text: Any) -> bool:
    return isinstance(text, str) and bool(_URI_SCHEME.match(text))


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_MEDIA_TYPES or (media.startswith("application/") and media.endswith("+json"))


def walk_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from walk_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_keys(item)


def hypothesis_settings(budget: Profile, *, examples: int | None = None) -> settings:
    """Profile-sized Hypothesis settings for checks that talk to a live target.

    Everything else (seed, database, printing) comes from the Hypothesis profile the plugin loads.
    """
    return settings(
        max_examples=examples or getattr(budget, "max_examples", 25),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


# --- the session invariants (TRN-R25..R28, R42) ------------------------------------------------------


def check_session(session: Any, where: str, *, evidence: Exchange | None = None) -> dict[str, Any]:
    """Every rule one Session object must obey on its own."""
    expect(
        "TRN-R04",
        isinstance(session, dict),
        f"{where}: session is not an object: {session!r}",
        evidence=evidence,
    )
    done, success, code = session.get("done"), session.get("success"), session.get("errorCode")
    created, updated = session.get("created"), session.get("updated")
    expect(
        "TRN-R04",
        isinstance(done, bool) and isinstance(success, bool),
        f"{where}: done/success must be booleans: {session!r}",
        evidence=evidence,
    )
    expect(
        "TRN-R42",
        code is None or code in ERROR_CODES,
        f"{where}: errorCode {code!r} is not a SessionErrorCode value",
        evidence=evidence,
    )
    warn(
        "TRN-R26",
        not success or done,
        f"{where}: success true but done false: {session!r}",
        evidence=evidence,
    )
    expect(
        "TRN-R27",
        not (success and code is not None),
        f"{where}: a successful session carries errorCode {code!r}",
        evidence=evidence,
    )
    warn(
        "TRN-R47",
        code is None or done,
        f"{where}: errorCode {code!r} on a session not done",
        evidence=evidence,
    )
    expect(
        "TRN-R28",
        isinstance(created, int)
        and isinstance(updated, int)
        and not isinstance(created, bool)
        and not isinstance(updated, bool),
        f"{where}: created/updated must be integers: {session!r}",
        evidence=evidence,
    )
    warn(
        "TRN-R48",
        updated >= created,
        f"{where}: updated {updated} is before created {created}",
        evidence=evidence,
    )
    return session


@dataclass
class Created:
    session_id: str
    body: dict[str, Any]
    exchange: Exchange


class Trinsic:
    """The nine operations, one method each; every method returns the ``Exchange``."""

    def __init__(self, client: ConformanceClient) -> None:
        self.client = client

    # raw calls
    def create_widget(self, body: Any, **kw: Any) -> Exchange:
        return self.client.request("POST", f"{PREFIX}/widget", json=body, **kw)

    def create_hosted(self, body: Any, **kw: Any) -> Exchange:
        return self.client.request("POST", f"{PREFIX}/provider/hosted", json=body, **kw)

    def create_advanced(self, body: Any, **kw: Any) -> Exchange:
        return self.client.request("POST", f"{PREFIX}/provider/advanced", json=body, **kw)

    def get(self, session_id: str, **kw: Any) -> Exchange:
        return self.client.request("GET", f"{PREFIX}/{session_id}", **kw)

    def list(self, params: dict[str, Any] | None = None, **kw: Any) -> Exchange:
        return self.client.request("GET", f"{PREFIX}/list", params=params, **kw)

    def cancel(self, session_id: str, **kw: Any) -> Exchange:
        return self.client.request("POST", f"{PREFIX}/{session_id}/cancel", **kw)

    def redact(self, session_id: str, **kw: Any) -> Exchange:
        return self.client.request("POST", f"{PREFIX}/{session_id}/redact", **kw)

    def results(self, session_id: str, key: Any, **kw: Any) -> Exchange:
        return self.client.request(
            "POST", f"{PREFIX}/{session_id}/results", json={"resultsAccessKey": key}, **kw
        )

    def refresh(self, session_id: str, key: str | None, **kw: Any) -> Exchange:
        body = {"resultsAccessKey": key} if key is not None else {}
        return self.client.request("POST", f"{PREFIX}/{session_id}/step/refresh", json=body, **kw)

    # set-up steps that must succeed
    def created(self, exchange: Exchange, what: str) -> Created:
        expect_status("TRN-R04", exchange, 200, what)
        body = json_of(exchange, rule="TRN-R04")
        expect(
            "TRN-R04",
            isinstance(body, dict) and isinstance(body.get("sessionId"), str),
            f"{what}: the answer must carry sessionId: {shown(exchange)}",
            evidence=exchange,
        )
        return Created(body["sessionId"], body, exchange)

    def new_widget(self, body: dict[str, Any] | None = None) -> Created:
        return self.created(self.create_widget(body if body is not None else {}), "Create Widget Session")

    def new_hosted(self, provider: str, body: dict[str, Any] | None = None) -> Created:
        payload = {"provider": provider, "redirectUrl": REDIRECT_URL, **(body or {})}
        return self.created(self.create_hosted(payload), "Create Hosted Provider Session")

    def new_advanced(self, body: dict[str, Any]) -> Created:
        return self.created(self.create_advanced(body), "Create Advanced Provider Session")

    def session(self, session_id: str, rule: str = "TRN-R04", **kw: Any) -> dict[str, Any]:
        exchange = self.get(session_id, **kw)
        expect_status(rule, exchange, 200, "Get Session of a session of this account")
        body = json_of(exchange, rule="TRN-R04")
        expect(
            "TRN-R04",
            isinstance(body, dict) and "session" in body,
            f"Get Session must answer {{session}}: {shown(exchange)}",
            evidence=exchange,
        )
        return check_session(body["session"], "Get Session", evidence=exchange)

    def page(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        exchange = self.list(params)
        expect_status("TRN-R04", exchange, 200, f"List Sessions with {params}")
        body = json_of(exchange, rule="TRN-R04")
        expect(
            "TRN-R04",
            isinstance(body, dict)
            and isinstance(body.get("sessions"), list)
            and isinstance(body.get("total"), int)
            and isinstance(body.get("more"), bool),
            f"List Sessions must answer {{sessions, total, more}}: {shown(exchange)}",
            evidence=exchange,
        )
        for item in body["sessions"]:
            check_session(item, "List Sessions", evidence=exchange)
        body["_exchange"] = exchange
        return body

    def listed(
        self, wanted: Iterable[str], params: dict[str, Any] | None = None, *, passes: int = 3, limit: int = 40
    ) -> list[str]:
        """The listing order of the ``wanted`` sessions (first occurrences), paging with PageSize 50.

        Others may change the account while the pages are read: a session that another client removes
        or moves shifts later ones up a page, so one of ours may be passed over. Paging stops once all
        are seen, and starts again (up to ``passes`` times) while one is missing; the order of what was
        found in the last pass is returned.
        """
        want = set(wanted)
        order: list[str] = []
        for _ in range(passes):
            order = []
            for page in range(1, limit + 1):
                body = self.page({**(params or {}), "PageSize": 50, "Page": page})
                order += [s["id"] for s in body["sessions"] if s["id"] in want and s["id"] not in order]
                if len(order) == len(want) or not body["more"]:
                    break
            if len(order) == len(want):
                break
        return order

    def all_ids(self, params: dict[str, Any] | None = None, limit: int = 40) -> list[str]:
        """Every session ID in listing order (at most ``limit`` pages of 50)."""
        ids: list[str] = []
        for page in range(1, limit + 1):
            body = self.page({**(params or {}), "PageSize": 50, "Page": page})
            ids += [s["id"] for s in body["sessions"]]
            if not body["more"]:
                break
        return ids


def finish(
    provider_state: ProviderState,
    session_id: str,
    success: bool,
    error_code: str | None = None,
    token: str | None = None,
) -> str:
    """Drive the session to its end through the provider-state hook; its results access key."""
    params: dict[str, Any] = {"session_id": session_id, "success": success}
    if not success:
        params["error_code"] = error_code or "UserAbandoned"
    answer = provider_state(FINISHED, params, token=token) if token else provider_state(FINISHED, params)
    return answer["results_access_key"]


def problem_body(exchange: Exchange) -> dict[str, Any] | None:
    """The ProblemDetails of an error answer, or None when the body is not one."""
    body = exchange.json_or_none()
    if not isinstance(body, dict):
        return None
    for key, kind in (("type", str), ("title", str), ("detail", str), ("instance", str), ("status", int)):
        if body.get(key) is not None and not isinstance(body[key], kind):
            return None
    return body


def expect_accepted(rule: str, exchange: Exchange, what: str) -> None:
    """The call must succeed: a refusal breaks ``rule``; a success other than 200 breaks TRN-R04.

    One defect, one failing rule: a create answered 201 is TRN-R04's defect, reported by its own check;
    here it blocks ``rule`` instead of failing it.
    """
    expect(rule, 200 <= exchange.status < 300, f"{what}: {shown(exchange)}", evidence=exchange)
    expect_status("TRN-R04", exchange, 200, f"{what}; as a success it")


def expect_rejected(rule: str, exchange: Exchange, what: str, statuses: Iterable[int] = (400,)) -> None:
    """The call must be refused with one of ``statuses`` (default 400) and a ProblemDetails body."""
    expect_status(rule, exchange, statuses, what)
    expect(
        "TRN-R03",
        problem_body(exchange) is not None,
        f"{what}: the {exchange.status} answer must carry ProblemDetails: {shown(exchange)}",
        evidence=exchange,
    )


def warn_rejected(rule: str, exchange: Exchange, what: str, statuses: Iterable[int] = (400,)) -> None:
    """The suite's reading (an inferred enforcement, A-19): the call is refused with one of ``statuses``.

    Acceptance is a warning of ``rule``; a refusal must still be a documented error answer (TRN-R03:
    ProblemDetails), and a server error warns TRN-X01 (invalid input is never a 5xx, inferred).
    """
    if not warn_status(rule, exchange, statuses, what):
        warn(
            "TRN-X01",
            exchange.status < 500,
            f"{what} answered a server error: {shown(exchange)}",
            evidence=exchange,
        )
        return
    expect(
        "TRN-R03",
        problem_body(exchange) is not None,
        f"{what}: the {exchange.status} answer must carry ProblemDetails: {shown(exchange)}",
        evidence=exchange,
    )


def advanced(provider: str, capabilities: list[str], **extra: Any) -> dict[str, Any]:
    return {"provider": provider, "capabilities": capabilities, **extra}


def expect_redacted(exchange: Exchange, rule: str = "TRN-R04") -> None:
    """Redact succeeded: ``200`` with no body (TRN-R04); ``204`` is tolerated, with a warning (A-10)."""
    expect_status(rule, exchange, (200, 204), "Redact Session")
    warn_status(rule, exchange, 200, "A-10: Redact Session (the sheet documents 200 with an empty body)")
    expect(
        rule,
        not exchange.body.strip(),
        f"Redact Session's 200 has no body: {shown(exchange)}",
        evidence=exchange,
    )


def reveals_session(exchange: Exchange) -> bool:
    """Whether a refused answer still carries session data (a Session object or its fields)."""
    keys = set(walk_keys(exchange.json_or_none()))
    return bool(keys & {"session", "sessions", "identityData", "launchUrl"}) or {"done", "created"} <= keys


# --- what the target's providers do, learnt from its own answers -------------------------------------


@dataclass(frozen=True)
class Flow:
    """A provider's native flow: what an advanced session declaring every capability runs."""

    provider: str
    launch: str  # nextStep.method
    collect: str  # resultCollection.method
    refreshable: bool  # the step came with refresh metadata
    extra: dict[str, Any]  # request properties the provider needs (providerInput)

    @property
    def capabilities(self) -> list[str]:
        """Exactly what this flow needs (TRN-R14), plus RefreshStepContent (not a flow method, TRN-R13)."""
        return list(dict.fromkeys([self.launch, self.collect, "RefreshStepContent"]))

    @property
    def hosted_like(self) -> bool:
        return (self.launch, self.collect) == ("LaunchBrowser", "CaptureRedirect")


@dataclass
class Providers:
    flows: list[Flow]
    refused: dict[str, str]  # provider -> the answer that refused the discovery request

    def reason(self, what: str) -> str:
        tried = ", ".join(
            [
                f"{f.provider} ({f.launch}/{f.collect}{', refreshable' if f.refreshable else ''})"
                for f in self.flows
            ]
            + [f"{p} (refused: {why})" for p, why in self.refused.items()]
        )
        tried = tried or "none"
        return f"no configured Trinsic provider {what} (tried: {tried}); give one with {PROVIDER_OPTION}"


_DISCOVERED: dict[tuple[str, str], Providers] = {}


def discover(client: ConformanceClient, target: Target) -> Providers:
    """Each of ``target.trinsic_providers``, asked once per run: an advanced session declaring every
    capability (and a redirectUrl) shows the provider's native launch and collection methods and whether
    its step content has refresh metadata. The sheet's lookup provider is tried too, with its input, in
    case the account has it enabled. A provider whose answer is not a usable 200 is only listed as refused.
    """
    cache_key = (str(getattr(target, "base_url", "")), str(getattr(target, "token", "")))
    if cache_key in _DISCOVERED:
        return _DISCOVERED[cache_key]
    trn = Trinsic(client)
    found = Providers([], {})
    candidates: list[tuple[str, dict[str, Any]]] = [(p, {}) for p in target.trinsic_providers]
    if LOOKUP_PROVIDER not in target.trinsic_providers:
        candidates.append((LOOKUP_PROVIDER, {"providerInput": {"indonesiaNik": VALID_NIK}}))
    for provider, extra in candidates:
        exchange = trn.create_advanced(
            advanced(provider, list(CAPABILITIES), redirectUrl=REDIRECT_URL, **extra)
        )
        body = exchange.json_or_none() if exchange.status == 200 else None
        step = body.get("nextStep") if isinstance(body, dict) else None
        collection = body.get("resultCollection") if isinstance(body, dict) else None
        if (
            isinstance(step, dict)
            and isinstance(collection, dict)
            and step.get("method") in LAUNCH_METHODS
            and collection.get("method") in COLLECTION_METHODS
        ):
            refreshable = isinstance(step.get("refresh"), dict)
            found.flows.append(Flow(provider, step["method"], collection["method"], refreshable, extra))
        elif provider in target.trinsic_providers:
            found.refused[provider] = f"{exchange.status} {exchange.text.strip()[:120]}"
    _DISCOVERED[cache_key] = found
    return found

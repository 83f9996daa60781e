"""Trinsic Advanced Provider Sessions: capabilities, fallback, steps, refresh (TRN-R13..R23).

Checks that hold for any provider use the hosted-UI capabilities (which every provider can serve,
TRN-R16/R17) or a guaranteed gap (capabilities without any result-collection method). Checks that
need to know a provider's flow learn it from the target itself (``_trinsic_steps.discover``: an
advanced session declaring every capability shows each configured provider's native flow), and skip,
naming ``--trinsic-provider``, when no configured provider has the flow they need.
"""

from __future__ import annotations

from typing import Any

import pytest
from _trinsic_steps import (
    COLLECTION_METHODS,
    HOSTED_FLOW,
    LAUNCH_METHODS,
    REDIRECT_URL,
    Created,
    Flow,
    Trinsic,
    advanced,
    discover,
    expect_accepted,
    has_uri_scheme,
    is_absolute_url,
    parse_time,
    warn_rejected,
)

from session_conformance.harness import (
    ConformanceClient,
    Exchange,
    Target,
    expect,
    json_of,
    shown,
    warn,
    warn_status,
)

# Capabilities without any result-collection method: a gap whatever the provider's flow (TRN-R13/R15).
NO_COLLECTION = ["LaunchBrowser", "DeeplinkToMobile", "ShowContent", "RefreshStepContent"]


def _flows(client: ConformanceClient, target: Target) -> list[Flow]:
    return discover(client, target).flows


def _exact(flow: Flow, **extra: Any) -> dict[str, Any]:
    """An advanced request declaring exactly the flow's capabilities, with the provider's own input."""
    return advanced(flow.provider, flow.capabilities, **{**flow.extra, **extra})


def _methods(created: Created) -> tuple[Any, Any, dict[str, Any]]:
    """nextStep.method, resultCollection.method and the step, checked for their documented shape."""
    body = created.body
    step, collection = body.get("nextStep"), body.get("resultCollection")
    expect(
        "TRN-R04",
        isinstance(step, dict) and isinstance(collection, dict),
        f"Create Advanced Provider Session must answer nextStep and resultCollection: {body!r}",
        evidence=created.exchange,
    )
    expect(
        "TRN-R42",
        step.get("method") in LAUNCH_METHODS,
        f"nextStep.method {step.get('method')!r} is not an IntegrationLaunchMethod",
        evidence=created.exchange,
    )
    expect(
        "TRN-R42",
        collection.get("method") in COLLECTION_METHODS,
        f"resultCollection.method {collection.get('method')!r} is not a ResultCollectionMethod",
        evidence=created.exchange,
    )
    check_step(step, evidence=created.exchange)
    check_collection(collection, evidence=created.exchange)
    return step["method"], collection["method"], step


def check_step(step: dict[str, Any], *, evidence: Exchange | None = None) -> None:
    """TRN-R20 (content matches the method) and TRN-R21 (refresh metadata is consistent)."""
    method, content = step.get("method"), step.get("content")
    expect(
        "TRN-R20", isinstance(content, str), f"nextStep.content must be a string: {step!r}", evidence=evidence
    )
    if method == "LaunchBrowser":
        expect(
            "TRN-R20",
            is_absolute_url(content),
            f"LaunchBrowser content must be a URL, got {content!r}",
            evidence=evidence,
        )
    elif method == "DeeplinkToMobile":
        expect(
            "TRN-R20",
            has_uri_scheme(content),
            f"DeeplinkToMobile content must be a deeplink, got {content!r}",
            evidence=evidence,
        )
    elif method == "ShowContent":
        expect(
            "TRN-R20",
            bool(content and content.strip()),
            f"ShowContent content must be text to display, got {content!r}",
            evidence=evidence,
        )
    refresh = step.get("refresh")  # absent is read as null
    if refresh is None:
        return
    expect(
        "TRN-R21",
        isinstance(refresh, dict),
        f"refresh must be an object or null: {refresh!r}",
        evidence=evidence,
    )
    expires, after = parse_time(refresh.get("expiresAt")), parse_time(refresh.get("refreshAfter"))
    ttl = refresh.get("timeToLiveSeconds")
    expect(
        "TRN-R21",
        expires is not None and after is not None,
        f"refresh.expiresAt/refreshAfter must be date-times: {refresh!r}",
        evidence=evidence,
    )
    warn(
        "TRN-R45",
        after <= expires,
        f"refreshAfter {refresh['refreshAfter']} is after expiresAt {refresh['expiresAt']}",
        evidence=evidence,
    )
    expect(
        "TRN-R21",
        isinstance(ttl, int) and not isinstance(ttl, bool),
        f"timeToLiveSeconds must be an integer, got {ttl!r}",
        evidence=evidence,
    )
    warn(
        "TRN-R45",
        ttl > 0,
        f"timeToLiveSeconds is the content's lifetime, so positive, got {ttl!r}",
        evidence=evidence,
    )


def check_collection(collection: dict[str, Any], *, evidence: Exchange | None = None) -> None:
    """TRN-R23: PollResult comes with the key to poll with; TRN-R46 (inferred): CaptureRedirect without."""
    key = collection.get("resultsAccessKey")
    if collection.get("method") == "PollResult":
        expect(
            "TRN-R23",
            isinstance(key, str) and bool(key),
            f"resultCollection PollResult must carry a resultsAccessKey: {collection!r}",
            evidence=evidence,
        )
    elif collection.get("method") == "CaptureRedirect":
        warn(
            "TRN-R46",
            key is None,
            f"CaptureRedirect results are not polled, yet a key came: {collection!r}",
            evidence=evidence,
        )


# --- any provider -------------------------------------------------------------------------------------


@pytest.mark.rules("TRN-R16", "TRN-R17", "TRN-R20", "TRN-R23", "TRN-R37")
@pytest.mark.needs("writes", "trinsic_provider")
def test_hosted_ui_capabilities_always_work(client: ConformanceClient, target: Target) -> None:
    """Every configured provider, the hosted-UI capabilities and fallback: LaunchBrowser + CaptureRedirect."""
    trn = Trinsic(client)
    for provider in target.trinsic_providers:
        body = advanced(provider, HOSTED_FLOW, redirectUrl=REDIRECT_URL, fallbackToHostedUI=True)
        exchange = trn.create_advanced(body)
        expect_accepted(
            "TRN-R16", exchange, f"{provider}: with fallbackToHostedUI the hosted UI covers every gap"
        )
        launch, collect, _ = _methods(trn.created(exchange, "Create Advanced Provider Session"))
        expect(
            "TRN-R17",
            (launch, collect) == ("LaunchBrowser", "CaptureRedirect"),
            f"{provider}: with only LaunchBrowser/CaptureRedirect declared the flow must be those, "
            f"got {launch}/{collect}",
            evidence=exchange,
        )


@pytest.mark.rules("TRN-R18")
@pytest.mark.needs("writes", "trinsic_provider")
def test_fallback_needs_redirect_url_and_hosted_capabilities(
    client: ConformanceClient, target: Target
) -> None:
    trn = Trinsic(client)
    provider = target.trinsic_provider
    for label, body in (
        ("without redirectUrl", advanced(provider, HOSTED_FLOW, fallbackToHostedUI=True)),
        (
            "with an empty redirectUrl",
            advanced(provider, HOSTED_FLOW, redirectUrl="", fallbackToHostedUI=True),
        ),
        (
            "without CaptureRedirect",
            advanced(
                provider, ["LaunchBrowser", "PollResult"], redirectUrl=REDIRECT_URL, fallbackToHostedUI=True
            ),
        ),
        (
            "without LaunchBrowser",
            advanced(
                provider,
                ["CaptureRedirect", "ShowContent"],
                redirectUrl=REDIRECT_URL,
                fallbackToHostedUI=True,
            ),
        ),
    ):
        warn_rejected("TRN-R18", trn.create_advanced(body), f"fallbackToHostedUI {label} (inferred: 400)")


@pytest.mark.rules("TRN-R15", "TRN-R44")
@pytest.mark.needs("writes", "trinsic_provider")
def test_capability_gap_without_fallback_is_refused(client: ConformanceClient, target: Target) -> None:
    """No result-collection method declared: a gap for every provider, refused without fallback."""
    trn = Trinsic(client)
    for provider in target.trinsic_providers:
        for label, extra in (
            ("fallbackToHostedUI absent", {}),
            ("fallbackToHostedUI false", {"fallbackToHostedUI": False}),
        ):
            body = advanced(provider, NO_COLLECTION, redirectUrl=REDIRECT_URL, **extra)
            exchange = trn.create_advanced(body)
            what = f"{provider} with {NO_COLLECTION} (no result-collection method), {label}"
            expect(
                "TRN-R15",
                not 200 <= exchange.status < 300,
                f"{what} must fail: {shown(exchange)}",
                evidence=exchange,
            )
            warn_rejected("TRN-R44", exchange, f"{what} (inferred: 400 ProblemDetails)")


# --- providers by their native flow (learnt from the target) ------------------------------------------


@pytest.mark.rules("TRN-R13", "TRN-R14", "TRN-R20", "TRN-R21", "TRN-R23", "TRN-R45", "TRN-R46")
@pytest.mark.needs("writes", "trinsic_provider")
def test_native_flows(client: ConformanceClient, target: Target) -> None:
    """Each provider's flow (seen with every capability declared) runs again when exactly its own
    capabilities are declared, and the step and result collection are among the declared ones."""
    flows = _flows(client, target)
    if not flows:
        pytest.skip(discover(client, target).reason("creates an advanced session with every capability"))
    trn = Trinsic(client)
    for flow in flows:
        body = _exact(flow, redirectUrl=REDIRECT_URL)
        exchange = trn.create_advanced(body)
        expect_accepted(
            "TRN-R14",
            exchange,
            f"{flow.provider} runs {flow.launch}/{flow.collect} when everything is declared, so declaring "
            f"exactly {flow.capabilities} must be enough",
        )
        created = trn.created(exchange, "Create Advanced Provider Session")
        launch, collect, _ = _methods(created)
        declared = set(body["capabilities"])
        expect(
            "TRN-R13",
            launch in declared and collect in declared,
            f"{flow.provider}: {launch}/{collect} not among the declared {sorted(declared)}",
            evidence=created.exchange,
        )
        expect(
            "TRN-R14",
            (launch, collect) == (flow.launch, flow.collect),
            f"{flow.provider} with {sorted(declared)} must run {flow.launch}/{flow.collect}, "
            f"got {launch}/{collect}",
            evidence=created.exchange,
        )


@pytest.mark.rules("TRN-R16", "TRN-R17")
@pytest.mark.needs("writes", "trinsic_provider")
def test_fallback_covers_gaps_with_the_hosted_ui(client: ConformanceClient, target: Target) -> None:
    """A provider whose own flow is not the hosted one, offered only the hosted-UI capabilities."""
    flows = [f for f in _flows(client, target) if not f.hosted_like]
    if not flows:
        pytest.skip(
            discover(client, target).reason("has a native flow other than LaunchBrowser/CaptureRedirect")
        )
    trn = Trinsic(client)
    for flow in flows:
        for label, capabilities in (
            ("only the hosted-UI capabilities", HOSTED_FLOW),
            ("the hosted-UI capabilities and the flow's collection", [*HOSTED_FLOW, flow.collect]),
        ):
            body = advanced(flow.provider, capabilities, redirectUrl=REDIRECT_URL, fallbackToHostedUI=True)
            exchange = trn.create_advanced(body)
            expect_accepted(
                "TRN-R16", exchange, f"fallbackToHostedUI must cover the gap ({flow.provider}, {label})"
            )
            launch, collect, _ = _methods(trn.created(exchange, "Create Advanced Provider Session"))
            if launch == flow.launch and flow.launch in capabilities:
                continue  # the declared capabilities covered the provider's own flow: no fallback happened
            expect(
                "TRN-R17",
                (launch, collect) == ("LaunchBrowser", "CaptureRedirect"),
                f"on fallback ({flow.provider}, {label}) the flow must be LaunchBrowser/CaptureRedirect, "
                f"got {launch}/{collect}",
                evidence=exchange,
            )


@pytest.mark.rules("TRN-R19")
@pytest.mark.needs("writes", "trinsic_provider")
def test_redirect_provider_needs_redirect_url(client: ConformanceClient, target: Target) -> None:
    flows = _flows(client, target)
    redirect = [f for f in flows if f.collect == "CaptureRedirect"]
    if not redirect:
        pytest.skip(discover(client, target).reason("has a redirect-based (CaptureRedirect) flow"))
    trn = Trinsic(client)
    for flow in redirect:
        trn.new_advanced(_exact(flow, redirectUrl=REDIRECT_URL))  # the control: valid with its redirectUrl
        warn_rejected(
            "TRN-R19",
            trn.create_advanced(_exact(flow)),
            f"{flow.provider} (redirect based) without redirectUrl",
        )
    for flow in (f for f in flows if f.collect == "PollResult"):
        exchange = trn.create_advanced(_exact(flow))
        warn_status(
            "TRN-R19",
            exchange,
            200,
            f"{flow.provider} collects by polling, so without redirectUrl (optional in the schema) it",
        )


@pytest.mark.rules("TRN-R21", "TRN-R22", "TRN-R45")
@pytest.mark.needs("writes", "trinsic_provider")
def test_refresh_step_content(client: ConformanceClient, target: Target) -> None:
    """A provider whose step content expires: refreshing gives new content and later refresh times."""
    flows = [f for f in _flows(client, target) if f.refreshable]
    if not flows:
        pytest.skip(discover(client, target).reason("has step content with refresh metadata"))
    flow = flows[0]
    trn = Trinsic(client)
    created = trn.new_advanced(_exact(flow, redirectUrl=REDIRECT_URL))
    _, _, step = _methods(created)
    expect(
        "TRN-R21",
        step.get("refresh") is not None,
        f"{flow.provider}'s step came with refresh metadata before, so refresh must be set: {step!r}",
        evidence=created.exchange,
    )
    key = created.body["resultCollection"].get("resultsAccessKey")
    for _ in range(2):
        exchange = trn.refresh(created.session_id, key)
        expect_accepted("TRN-R22", exchange, "Refresh Step Content must succeed")
        new = json_of(exchange, rule="TRN-R04").get("nextStep")
        expect(
            "TRN-R22",
            isinstance(new, dict),
            f"Refresh Step Content must answer nextStep: {shown(exchange)}",
            evidence=exchange,
        )
        check_step(new, evidence=exchange)
        expect(
            "TRN-R22",
            new.get("method") == step["method"],
            f"refreshing keeps the step: {step['method']} became {new.get('method')}",
            evidence=exchange,
        )
        expect(
            "TRN-R22",
            new.get("content") != step["content"],
            "Refresh Step Content returned the same content",
            evidence=exchange,
        )
        expect(
            "TRN-R21",
            new.get("refresh") is not None,
            f"the refreshed step lost its refresh info: {new!r}",
            evidence=exchange,
        )
        old_expiry, new_expiry = (
            parse_time(step["refresh"]["expiresAt"]),
            parse_time(new["refresh"]["expiresAt"]),
        )
        expect(
            "TRN-R22",
            new_expiry is not None and old_expiry is not None and new_expiry > old_expiry,
            f"the refreshed content must expire later: {step['refresh']} -> {new['refresh']}",
            evidence=exchange,
        )
        step = new

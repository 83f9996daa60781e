"""Trinsic Advanced Provider Sessions: capabilities, fallback, steps, refresh (TRN-R13..R23).

Generic checks use the target's provider with the hosted-UI capabilities (which every provider can
serve, TRN-R16/R17); the checks that need to know a provider's flow use the embedded server's test
providers and carry ``needs("embedded")``.
"""

from __future__ import annotations

from typing import Any

import pytest
from _trinsic_steps import (
    CAPABILITIES,
    COLLECTION_METHODS,
    CONTENT_PROVIDER,
    EMBEDDED_PROVIDER,
    HOSTED_FLOW,
    LAUNCH_METHODS,
    LOOKUP_PROVIDER,
    MOBILE_PROVIDER,
    REDIRECT_URL,
    VALID_NIK,
    Created,
    Trinsic,
    advanced,
    expect_rejected,
    has_uri_scheme,
    is_absolute_url,
    json_of,
    parse_time,
    shown,
)

from session_conformance.verdict import expect

MOBILE_FLOW = ["DeeplinkToMobile", "PollResult"]
CONTENT_FLOW = ["ShowContent", "PollResult", "RefreshStepContent"]


def _provider(target: Any) -> str:
    return getattr(target, "trinsic_provider", None) or EMBEDDED_PROVIDER


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


def check_step(step: dict[str, Any], *, evidence: Any = None) -> None:
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
    refresh = step.get("refresh")
    if refresh is None:
        return
    expires, after = parse_time(refresh.get("expiresAt")), parse_time(refresh.get("refreshAfter"))
    ttl = refresh.get("timeToLiveSeconds")
    expect(
        "TRN-R21",
        expires is not None and after is not None,
        f"refresh.expiresAt/refreshAfter must be date-times: {refresh!r}",
        evidence=evidence,
    )
    expect(
        "TRN-R21",
        after <= expires,
        f"refreshAfter {refresh['refreshAfter']} is after expiresAt {refresh['expiresAt']}",
        evidence=evidence,
    )
    expect(
        "TRN-R21",
        isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0,
        f"timeToLiveSeconds must be a positive integer, got {ttl!r}",
        evidence=evidence,
    )


def check_collection(collection: dict[str, Any], *, evidence: Any = None) -> None:
    """TRN-R23: PollResult comes with the key to poll with; CaptureRedirect without one."""
    key = collection.get("resultsAccessKey")
    if collection.get("method") == "PollResult":
        expect(
            "TRN-R23",
            isinstance(key, str) and bool(key),
            f"resultCollection PollResult must carry a resultsAccessKey: {collection!r}",
            evidence=evidence,
        )
    elif collection.get("method") == "CaptureRedirect":
        expect(
            "TRN-R23",
            key is None,
            f"CaptureRedirect results are not polled, yet a key came: {collection!r}",
            evidence=evidence,
        )


# --- generic -----------------------------------------------------------------------------------------


@pytest.mark.rules("TRN-R16", "TRN-R17", "TRN-R20", "TRN-R23", "TRN-R37")
@pytest.mark.needs("writes", "trinsic_provider")
def test_hosted_ui_capabilities_always_work(client: Any, target: Any) -> None:
    """Any provider, the hosted-UI capabilities and fallback: LaunchBrowser + CaptureRedirect."""
    body = advanced(_provider(target), HOSTED_FLOW, redirectUrl=REDIRECT_URL, fallbackToHostedUI=True)
    exchange = Trinsic(client).create_advanced(body)
    expect(
        "TRN-R16",
        exchange.status == 200,
        f"with fallbackToHostedUI the hosted UI covers every gap, yet: {shown(exchange)}",
        evidence=exchange,
    )
    launch, collect, _ = _methods(Trinsic(client).created(exchange, "Create Advanced Provider Session"))
    expect(
        "TRN-R17",
        (launch, collect) == ("LaunchBrowser", "CaptureRedirect"),
        f"with only LaunchBrowser/CaptureRedirect declared the flow must be those, got {launch}/{collect}",
        evidence=exchange,
    )


@pytest.mark.rules("TRN-R13", "TRN-R20", "TRN-R21", "TRN-R23")
@pytest.mark.needs("writes", "trinsic_provider")
def test_steps_use_declared_capabilities(client: Any, target: Any) -> None:
    """Everything declared, no fallback: the step and result collection are among the declared ones."""
    exchange = Trinsic(client).create_advanced(
        advanced(_provider(target), list(CAPABILITIES), redirectUrl=REDIRECT_URL)
    )
    if exchange.status == 400:
        pytest.skip(f"the provider needs input this generic check cannot give: {shown(exchange)}")
    launch, collect, _ = _methods(Trinsic(client).created(exchange, "Create Advanced Provider Session"))
    expect(
        "TRN-R13",
        launch in CAPABILITIES and collect in CAPABILITIES,
        f"{launch}/{collect} are not declared capabilities",
        evidence=exchange,
    )


@pytest.mark.rules("TRN-R18")
@pytest.mark.needs("writes", "trinsic_provider")
def test_fallback_needs_redirect_url_and_hosted_capabilities(client: Any, target: Any) -> None:
    trn = Trinsic(client)
    provider = _provider(target)
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
        expect_rejected("TRN-R18", trn.create_advanced(body), f"fallbackToHostedUI {label}")


# --- the embedded server's providers -----------------------------------------------------------------


@pytest.mark.rules("TRN-R13", "TRN-R14", "TRN-R20", "TRN-R23")
@pytest.mark.needs("writes", "embedded")
def test_native_flows(client: Any) -> None:
    """Redirect flow: LaunchBrowser + CaptureRedirect; mobile flow: DeeplinkToMobile + PollResult."""
    trn = Trinsic(client)
    cases = (
        (
            advanced(EMBEDDED_PROVIDER, HOSTED_FLOW, redirectUrl=REDIRECT_URL),
            ("LaunchBrowser", "CaptureRedirect"),
        ),
        (advanced(MOBILE_PROVIDER, MOBILE_FLOW), ("DeeplinkToMobile", "PollResult")),
        (
            advanced(MOBILE_PROVIDER, list(CAPABILITIES), redirectUrl=REDIRECT_URL),
            ("DeeplinkToMobile", "PollResult"),
        ),
        (advanced(CONTENT_PROVIDER, CONTENT_FLOW), ("ShowContent", "PollResult")),
        (
            advanced(LOOKUP_PROVIDER, ["PollResult"], providerInput={"indonesiaNik": VALID_NIK}),
            ("PollResult", "PollResult"),
        ),
    )
    for body, flow in cases:
        created = trn.new_advanced(body)
        launch, collect, _ = _methods(created)
        declared = set(body["capabilities"])
        expect(
            "TRN-R13",
            launch in declared and collect in declared,
            f"{body['provider']}: {launch}/{collect} not among the declared {sorted(declared)}",
            evidence=created.exchange,
        )
        expect(
            "TRN-R14",
            (launch, collect) == flow,
            f"{body['provider']} with {sorted(declared)} must run {'/'.join(flow)}, got {launch}/{collect}",
            evidence=created.exchange,
        )


@pytest.mark.rules("TRN-R15")
@pytest.mark.needs("writes", "embedded")
def test_capability_gap_without_fallback_is_refused(client: Any) -> None:
    trn = Trinsic(client)
    for label, body in (
        (
            "mobile provider, browser capabilities",
            advanced(MOBILE_PROVIDER, HOSTED_FLOW, redirectUrl=REDIRECT_URL),
        ),
        ("mobile provider, no PollResult", advanced(MOBILE_PROVIDER, ["DeeplinkToMobile"])),
        ("content provider, no ShowContent", advanced(CONTENT_PROVIDER, ["PollResult"])),
        (
            "redirect provider, no CaptureRedirect",
            advanced(
                EMBEDDED_PROVIDER,
                ["LaunchBrowser", "PollResult"],
                redirectUrl=REDIRECT_URL,
                fallbackToHostedUI=False,
            ),
        ),
        ("lookup provider without its input", advanced(LOOKUP_PROVIDER, ["PollResult"])),
    ):
        expect_rejected("TRN-R15", trn.create_advanced(body), f"a capability gap ({label}) without fallback")


@pytest.mark.rules("TRN-R16", "TRN-R17")
@pytest.mark.needs("writes", "embedded")
def test_fallback_covers_gaps_with_the_hosted_ui(client: Any) -> None:
    trn = Trinsic(client)
    for label, body in (
        ("mobile provider", advanced(MOBILE_PROVIDER, HOSTED_FLOW)),
        ("content provider", advanced(CONTENT_PROVIDER, [*HOSTED_FLOW, "PollResult"])),
        ("lookup provider without its input", advanced(LOOKUP_PROVIDER, [*HOSTED_FLOW, "PollResult"])),
    ):
        exchange = trn.create_advanced({**body, "redirectUrl": REDIRECT_URL, "fallbackToHostedUI": True})
        expect(
            "TRN-R16",
            exchange.status == 200,
            f"fallbackToHostedUI must cover the gap ({label}): {shown(exchange)}",
            evidence=exchange,
        )
        launch, collect, _ = _methods(trn.created(exchange, "Create Advanced Provider Session"))
        expect(
            "TRN-R17",
            (launch, collect) == ("LaunchBrowser", "CaptureRedirect"),
            f"on fallback ({label}) the flow must be LaunchBrowser/CaptureRedirect, got {launch}/{collect}",
            evidence=exchange,
        )


@pytest.mark.rules("TRN-R19")
@pytest.mark.needs("writes", "embedded")
def test_redirect_provider_needs_redirect_url(client: Any) -> None:
    trn = Trinsic(client)
    expect_rejected(
        "TRN-R19",
        trn.create_advanced(advanced(EMBEDDED_PROVIDER, HOSTED_FLOW)),
        "a redirect-based provider without redirectUrl",
    )
    trn.new_advanced(advanced(EMBEDDED_PROVIDER, HOSTED_FLOW, redirectUrl=REDIRECT_URL))  # the control
    trn.new_advanced(advanced(MOBILE_PROVIDER, MOBILE_FLOW))  # a polling flow needs no redirect URL


@pytest.mark.rules("TRN-R21", "TRN-R22")
@pytest.mark.needs("writes", "embedded")
def test_refresh_step_content(client: Any) -> None:
    """The content provider's step expires; refreshing gives new content and later refresh times."""
    trn = Trinsic(client)
    created = trn.new_advanced(advanced(CONTENT_PROVIDER, CONTENT_FLOW))
    _, _, step = _methods(created)
    expect(
        "TRN-R21",
        step.get("refresh") is not None,
        f"the content provider's ShowContent step expires, so refresh must be set: {step!r}",
        evidence=created.exchange,
    )
    key = created.body["resultCollection"]["resultsAccessKey"]
    for _ in range(2):
        exchange = trn.refresh(created.session_id, key)
        expect(
            "TRN-R22",
            exchange.status == 200,
            f"Refresh Step Content must answer 200: {shown(exchange)}",
            evidence=exchange,
        )
        new = json_of(exchange).get("nextStep")
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

"""Trinsic sessions: the three create operations and their inputs (TRN-R05..R12, R37..R39)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _trinsic_steps import (
    HOSTED_FLOW,
    REDIRECT_URL,
    VALID_NIK,
    Trinsic,
    advanced,
    expect_accepted,
    expect_rejected,
    hypothesis_settings,
    is_absolute_url,
    is_uuid,
    walk_keys,
    warn_rejected,
)
from hypothesis import given
from hypothesis import strategies as st

from session_conformance.harness import (
    ConformanceClient,
    Exchange,
    Profile,
    Target,
    expect,
    json_of,
    shown,
    warn,
)


def _provider(target: Target) -> str:
    return str(target.trinsic_provider)  # needs("trinsic_provider") skips when there is none


def _enabled(exchange: Exchange, provider: str, what: str) -> None:
    """The valid request that shows ``provider`` is enabled on the target; skip when it is refused."""
    if exchange.status != 200:
        pytest.skip(
            f"provider {provider} ({what}) does not seem enabled for the account: the well-formed request "
            f"was refused ({shown(exchange)}); enable it, or these checks cannot run"
        )


@pytest.mark.rules("TRN-R05")
@pytest.mark.needs("writes")
def test_widget_launch_url_is_a_browser_url(client: ConformanceClient) -> None:
    created = Trinsic(client).new_widget()
    url = created.body.get("launchUrl")
    expect(
        "TRN-R05",
        url is None or is_absolute_url(url),
        f"the widget launchUrl must be an absolute http(s) URL a browser can open, got {url!r}",
        evidence=created.exchange,
    )


@pytest.mark.rules("TRN-R07")
@pytest.mark.needs("writes", "trinsic_provider")
def test_hosted_launch_url_is_a_browser_url(client: ConformanceClient, target: Target) -> None:
    created = Trinsic(client).new_hosted(_provider(target))
    url = created.body.get("launchUrl")
    expect(
        "TRN-R07",
        url is None or is_absolute_url(url),
        f"the hosted launchUrl must be an absolute http(s) URL (top-level navigation or popup), got {url!r}",
        evidence=created.exchange,
    )


@pytest.mark.rules("TRN-R06")
@pytest.mark.needs("writes", "trinsic_provider")
def test_launch_url_is_returned_only_once(client: ConformanceClient, target: Target) -> None:
    """Get Session and List Sessions never hand out a launch URL again."""
    trn = Trinsic(client)
    sessions = [trn.new_widget(), trn.new_hosted(_provider(target))]
    for created in sessions:
        url = created.body.get("launchUrl")
        for exchange in (trn.get(created.session_id), trn.list({"PageSize": 50})):
            body = json_of(exchange, rule="TRN-R04")
            expect(
                "TRN-R06",
                "launchUrl" not in set(walk_keys(body)),
                f"{shown(exchange)} returns a launchUrl again",
                evidence=exchange,
            )
            if url:
                expect(
                    "TRN-R06",
                    url not in exchange.text,
                    f"{exchange.method} {exchange.url} returns the session's launch URL again",
                    evidence=exchange,
                )


@pytest.mark.rules("TRN-R09")
@pytest.mark.needs("writes", "trinsic_provider")
def test_widget_may_restrict_providers(client: ConformanceClient, target: Target) -> None:
    exchange = Trinsic(client).create_widget({"providers": [_provider(target)], "redirectUrl": REDIRECT_URL})
    expect_accepted("TRN-R09", exchange, "a widget restricted to an enabled provider must be created")


@pytest.mark.rules("TRN-R10")
@pytest.mark.needs("writes")
def test_widget_accepts_known_identity_data(client: ConformanceClient) -> None:
    known = {
        "person": {
            "givenName": "Ada",
            "familyName": "Lovelace",
            "phoneNumber": "+447700900123",
            "dateOfBirth": "1815-12-10",
            "address": {"city": "London", "country": "GB"},
        }
    }
    for body in ({"knownIdentityData": known}, {"knownIdentityData": None}, {"knownIdentityData": {}}):
        exchange = Trinsic(client).create_widget(body)
        expect_accepted("TRN-R10", exchange, "knownIdentityData is optional data the widget must accept")


@pytest.mark.rules("TRN-R11")
@pytest.mark.needs("writes", "trinsic_provider")
def test_hosted_requires_provider_and_redirect_url(client: ConformanceClient, target: Target) -> None:
    provider = _provider(target)
    trn = Trinsic(client)
    trn.new_hosted(provider)  # the valid request works, so the refusals below are about the fields
    for label, body in (
        ("without redirectUrl", {"provider": provider}),
        ("with an empty redirectUrl", {"provider": provider, "redirectUrl": ""}),
        ("with a null redirectUrl", {"provider": provider, "redirectUrl": None}),
        ("without provider", {"redirectUrl": REDIRECT_URL}),
        ("with an empty provider", {"provider": "", "redirectUrl": REDIRECT_URL}),
    ):
        expect_rejected("TRN-R11", trn.create_hosted(body), f"Create Hosted Provider Session {label}")


@pytest.mark.rules("TRN-R12")
@pytest.mark.needs("writes", "trinsic_provider")
def test_advanced_requires_provider_and_capabilities(client: ConformanceClient, target: Target) -> None:
    provider = _provider(target)
    trn = Trinsic(client)
    for label, body in (
        ("with an empty capabilities list", advanced(provider, [], redirectUrl=REDIRECT_URL)),
        ("without capabilities", {"provider": provider, "redirectUrl": REDIRECT_URL}),
        ("with an empty provider", advanced("", HOSTED_FLOW, redirectUrl=REDIRECT_URL)),
        ("without provider", {"capabilities": HOSTED_FLOW, "redirectUrl": REDIRECT_URL}),
    ):
        expect_rejected("TRN-R12", trn.create_advanced(body), f"Create Advanced Provider Session {label}")


@pytest.mark.rules("TRN-R37", "TRN-R51")
@pytest.mark.needs("writes", "trinsic_provider")
def test_created_session_ids_are_uuids(client: ConformanceClient, target: Target) -> None:
    trn = Trinsic(client)
    provider = _provider(target)
    for created in (
        trn.new_widget(),
        trn.new_hosted(provider),
        trn.new_advanced(advanced(provider, HOSTED_FLOW, redirectUrl=REDIRECT_URL, fallbackToHostedUI=True)),
    ):
        expect(
            "TRN-R37",
            is_uuid(created.session_id),
            f"sessionId {created.session_id!r} is not a UUID",
            evidence=created.exchange,
        )
        session = trn.session(created.session_id)
        warn(
            "TRN-R51",
            session["id"].lower() == created.session_id.lower(),
            f"Get Session answers id {session['id']!r} for sessionId {created.session_id!r}",
        )


# --- provider input formats (TRN-R38, TRN-R39) ------------------------------------------------------

# (ProviderInput property, a valid value, the field to break, its exact length, digits only?)
FORMATS: list[tuple[str, dict[str, Any], str, int, bool]] = [
    ("indonesiaNik", VALID_NIK, "nikIdNumber", 16, True),
    ("mexicoCurp", {"curp": "LOVA151210MNELVD09"}, "curp", 18, False),
    (
        "southAfricaNid",
        {
            "fullName": "Ada Lovelace",
            "dateOfBirth": "1815-12-10",
            "gender": "F",
            "nationalIdNumber": "1512105800087",
        },
        "nationalIdNumber",
        13,
        True,
    ),
    (
        "kenyaNid",
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "dateOfBirth": "1815-12-10",
            "gender": "F",
            "nationalIdNumber": "12345678",
        },
        "nationalIdNumber",
        8,
        True,
    ),
    (
        "nigeriaNin",
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "dateOfBirth": "1815-12-10",
            "nationalIdNumber": "12345678901",
        },
        "nationalIdNumber",
        11,
        True,
    ),
    ("brazilCpfCheck", {"cpfNumber": "12345678909"}, "cpfNumber", 11, True),
]
PROVIDER_OF = {
    "indonesiaNik": "f-indonesia-nik",
    "mexicoCurp": "f-mexico-curp",
    "southAfricaNid": "f-south-africa-nid",
    "kenyaNid": "f-kenya-nid",
    "nigeriaNin": "f-nigeria-nin",
    "brazilCpfCheck": "g-brazil-cpf",
    "brazilDigitalCnh": "g-brazil-digital-cnh",
}


@st.composite
def invalid_inputs(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """One ProviderInput property with exactly one field broken (length, digits, date or emptiness)."""
    key, valid, field, length, digits = draw(st.sampled_from(FORMATS))
    broken = dict(valid)
    how = draw(
        st.sampled_from(["length", "non-digit", "date", "empty"] if digits else ["length", "date", "empty"])
    )
    if how == "length":
        size = draw(st.integers(0, length + 6).filter(lambda n: n != length))
        broken[field] = draw(st.text("0123456789", min_size=size, max_size=size))
        what = f"{field} of {size} characters"
    elif how == "non-digit":
        position = draw(st.integers(0, length - 1))
        char = draw(st.sampled_from("aZ -+.٣"))
        broken[field] = valid[field][:position] + char + valid[field][position + 1 :]
        what = f"{field} {broken[field]!r} with a non-digit"
    elif how == "date" and "dateOfBirth" in valid:
        broken["dateOfBirth"] = draw(
            st.sampled_from(["10/12/1815", "1815-13-10", "1815-12-32", "18151210", ""])
        )
        what = f"dateOfBirth {broken['dateOfBirth']!r}"
    else:
        required = [name for name in valid if name != "dateOfBirth"]
        name = draw(st.sampled_from(required))
        broken[name] = ""
        what = f"an empty {name}"
    return key, broken, what


@pytest.mark.rules("TRN-R38")
@pytest.mark.needs("writes", "trinsic_provider")
def test_provider_input_formats_are_enforced(
    client: ConformanceClient, target: Target, budget: Profile
) -> None:
    """Wrong lengths, non-digits, bad dates, empty names: the suite reads them as refused with 400
    whatever the provider; server-side enforcement is undocumented (A-19), so acceptance warns."""
    trn = Trinsic(client)
    provider = _provider(target)

    @hypothesis_settings(budget)
    @given(case=invalid_inputs())
    def check(case: tuple[str, dict[str, Any], str]) -> None:
        key, value, what = case
        body = {"provider": provider, "redirectUrl": REDIRECT_URL, "providerInput": {key: value}}
        warn_rejected("TRN-R38", trn.create_hosted(body), f"providerInput.{key} with {what} (A-19, inferred)")

    check()


@pytest.mark.rules("TRN-R38")
@pytest.mark.needs("writes")
@pytest.mark.parametrize("key,valid", [(f[0], f[1]) for f in FORMATS], ids=[f[0] for f in FORMATS])
def test_well_formed_provider_input_is_accepted(
    client: ConformanceClient, key: str, valid: dict[str, Any]
) -> None:
    """The control of the check above, and its mirror with the input's own provider: well formed, the
    input creates a session; with one field broken the same request is refused.

    The sheet's providers may not be enabled on a target; the well-formed request is sent first and the
    check skips when it is refused."""
    provider = PROVIDER_OF[key]
    trn = Trinsic(client)
    body = {"provider": provider, "redirectUrl": REDIRECT_URL, "providerInput": {key: valid}}
    _enabled(trn.create_hosted(body), provider, f"providerInput.{key}")
    field = next(f[2] for f in FORMATS if f[0] == key)
    broken = {**valid, field: valid[field][:-1]}
    warn_rejected(
        "TRN-R38",
        trn.create_hosted({**body, "providerInput": {key: broken}}),
        f"{provider} with providerInput.{key}.{field} one character short (A-19, inferred)",
    )


@pytest.mark.rules("TRN-R39")
@pytest.mark.needs("writes")
def test_cnh_file_content_type(client: ConformanceClient) -> None:
    """The sheet's Brazil digital CNH provider, when the account has it (skipped otherwise)."""
    trn = Trinsic(client)
    base = {"cpfNumber": "12345678909", "digitalCnhFile": "JVBERi0xLjQK"}
    for index, content_type in enumerate(("application/pdf", "image/jpeg", "image/png")):
        body = {
            "provider": "g-brazil-digital-cnh",
            "redirectUrl": REDIRECT_URL,
            "providerInput": {"brazilDigitalCnh": {**base, "digitalCnhFileContentType": content_type}},
        }
        exchange = trn.create_hosted(body)
        if index == 0:
            _enabled(exchange, "g-brazil-digital-cnh", "providerInput.brazilDigitalCnh")
        expect_accepted("TRN-R39", exchange, f"content type {content_type} must be accepted")
    for content_type in ("image/gif", "text/plain", "application/octet-stream", "PDF"):
        body = {
            "provider": "g-brazil-digital-cnh",
            "redirectUrl": REDIRECT_URL,
            "providerInput": {"brazilDigitalCnh": {**base, "digitalCnhFileContentType": content_type}},
        }
        warn_rejected(
            "TRN-R39",
            trn.create_hosted(body),
            f"digitalCnhFileContentType {json.dumps(content_type)} (A-19: enforcement is inferred)",
        )

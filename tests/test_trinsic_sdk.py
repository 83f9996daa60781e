"""The official Python SDK (trinsic-api 2.0.0a3) against the embedded server: all nine operations.

If the SDK can deserialise every answer (pydantic models with closed enums), the server speaks the
wire format real integrators use; error answers must surface as ``ApiException`` with status/body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

trinsic_api = pytest.importorskip("trinsic_api")

from trinsic_api import (  # noqa: E402  (after the importorskip)
    ApiClient,
    ApiException,
    CancelSessionResponse,
    Configuration,
    CreateAdvancedProviderSessionRequest,
    CreateHostedProviderSessionRequest,
    CreateWidgetSessionRequest,
    GetSessionResultRequest,
    IndonesiaNikInput,
    IntegrationCapability,
    KnownIdentityData,
    KnownPersonData,
    OrderDirection,
    ProviderInput,
    RefreshStepContentRequest,
    SessionErrorCode,
    SessionOrdering,
    SessionsApi,
)

from session_conformance.server import EmbeddedServer  # noqa: E402

REDIRECT = "https://example.test/done"


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as running:
        yield running


def sdk(server: EmbeddedServer, token: str) -> SessionsApi:
    return SessionsApi(ApiClient(Configuration(host=server.url, access_token=token)))


@pytest.fixture(scope="module")
def api(server: EmbeddedServer) -> SessionsApi:
    return sdk(server, server.primary_token)


def finish(server: EmbeddedServer, session_id: str, success: bool = True) -> str:
    params = {"session_id": session_id, "success": success}
    if not success:
        params["error_code"] = "InvalidImage"
    response = httpx.post(
        server.hook_url,
        json={"state": "trinsic session finished", "params": params},
        headers={"Authorization": f"Bearer {server.primary_token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["results_access_key"]


def test_all_nine_operations(api: SessionsApi, server: EmbeddedServer) -> None:
    widget = api.create_widget_session(
        CreateWidgetSessionRequest(
            redirect_url=REDIRECT,
            providers=["conformance-test"],
            known_identity_data=KnownIdentityData(
                person=KnownPersonData(given_name="Ada", phone_number="+4470000")
            ),
        )
    )
    assert widget.launch_url and widget.session_id

    hosted = api.create_hosted_provider_session(
        CreateHostedProviderSessionRequest(
            provider="f-indonesia-nik",
            redirect_url=REDIRECT,
            provider_input=ProviderInput(
                indonesia_nik=IndonesiaNikInput(
                    full_name="Ada Lovelace", date_of_birth="1815-12-10", nik_id_number="3174012345678901"
                )
            ),
        )
    )
    assert hosted.launch_url

    advanced = api.create_advanced_provider_session(
        CreateAdvancedProviderSessionRequest(
            provider="conformance-test-content",
            capabilities=[
                IntegrationCapability.SHOWCONTENT,
                IntegrationCapability.POLLRESULT,
                IntegrationCapability.REFRESHSTEPCONTENT,
            ],
        )
    )
    assert advanced.next_step.refresh is not None
    key = advanced.result_collection.results_access_key
    assert key

    refreshed = api.refresh_step_content(
        advanced.session_id, RefreshStepContentRequest(results_access_key=key)
    )
    assert refreshed.next_step.content != advanced.next_step.content

    fallback = api.create_advanced_provider_session(
        CreateAdvancedProviderSessionRequest(
            provider="conformance-test-mobile",
            redirect_url=REDIRECT,
            fallback_to_hosted_ui=True,
            capabilities=[IntegrationCapability.LAUNCHBROWSER, IntegrationCapability.CAPTUREREDIRECT],
        )
    )
    assert fallback.next_step.method.value == "LaunchBrowser"
    assert fallback.result_collection.results_access_key is None

    got = api.get_session(widget.session_id)
    assert got.session.id == widget.session_id and got.session.done is False

    listing = api.list_sessions(
        order_by=SessionOrdering.CREATED, order_direction=OrderDirection.ASCENDING, page_size=2, page=1
    )
    assert len(listing.sessions) == 2 and listing.total >= 4 and listing.more is True

    results_key = finish(server, widget.session_id)
    results = api.get_session_result(
        widget.session_id, GetSessionResultRequest(results_access_key=results_key)
    )
    assert results.session.success is True
    assert results.identity_data.person.given_name and results.identity_data.person.family_name
    assert results.identity_data.attachment_access_keys.provider is not None

    assert api.redact_session(widget.session_id) is None
    after = api.get_session_result(widget.session_id, GetSessionResultRequest(results_access_key=results_key))
    assert after.identity_data is None

    cancelled = api.cancel_session(hosted.session_id)
    assert isinstance(cancelled, CancelSessionResponse)
    assert cancelled.session.done and not cancelled.session.success
    assert cancelled.session.error_code == SessionErrorCode.CANCELED

    failed = api.create_widget_session(CreateWidgetSessionRequest())
    finish(server, failed.session_id, success=False)
    assert api.get_session(failed.session_id).session.error_code == SessionErrorCode.INVALIDIMAGE


def test_every_ordering_deserialises(api: SessionsApi) -> None:
    api.create_widget_session(CreateWidgetSessionRequest())
    for order_by in SessionOrdering:
        for direction in OrderDirection:
            assert api.list_sessions(order_by=order_by, order_direction=direction).total >= 1
    assert len(api.list_sessions().sessions) >= 1


def _error(call: object) -> ApiException:
    with pytest.raises(ApiException) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_error_answers_reach_the_sdk(api: SessionsApi, server: EmbeddedServer) -> None:
    missing = _error(lambda: api.get_session("00000000-0000-4000-8000-000000000000"))
    assert missing.status == 404
    assert json.loads(missing.body)["status"] == 404

    gap = _error(
        lambda: api.create_advanced_provider_session(
            CreateAdvancedProviderSessionRequest(
                provider="conformance-test-mobile", capabilities=[IntegrationCapability.LAUNCHBROWSER]
            )
        )
    )
    assert gap.status == 400
    assert json.loads(gap.body)["detail"]

    wrong_key = _error(
        lambda: api.get_session_result(
            api.create_widget_session(CreateWidgetSessionRequest()).session_id,
            GetSessionResultRequest(results_access_key="wrong"),
        )
    )
    assert wrong_key.status == 404

    anonymous = sdk(server, "not-a-token")
    unauthorized = _error(lambda: anonymous.list_sessions())
    assert unauthorized.status == 401
    for call in (
        lambda: anonymous.cancel_session("x"),
        lambda: anonymous.redact_session("x"),
        lambda: anonymous.refresh_step_content("x", RefreshStepContentRequest()),
    ):
        assert _error(call).status == 401

    refresh_widget = _error(
        lambda: api.refresh_step_content(
            api.create_widget_session(CreateWidgetSessionRequest()).session_id, RefreshStepContentRequest()
        )
    )
    assert refresh_widget.status == 400

"""Who may open /ws/monitor/<tenant>/: refused before the handshake completes unless a member or a scoped token."""

import pytest
from asgiref.sync import sync_to_async

from tenants.services import ensure_user, issue_token
from tests.monitor.conftest import in_event_loop, communicator, connected, session_cookie

pytestmark = pytest.mark.django_db


async def refused_with(comm):
    ok, code = await comm.connect(timeout=5)
    assert not ok
    return code


@in_event_loop
async def test_an_anonymous_visitor_is_refused_with_4401(tenant):
    assert await refused_with(communicator("acme")) == 4401


@in_event_loop
async def test_a_member_with_a_session_is_admitted_and_greeted(tenant, member_cookie):
    comm = communicator("acme", cookie=member_cookie)
    ok, _ = await comm.connect(timeout=5)
    assert ok
    hello = await comm.receive_json_from(timeout=5)
    assert hello == {"kind": "hello", "tenant": "acme", "filter": {"types": [], "routingKey": None, "source": None, "outcome": None}, "batchIntervalMs": 100, "bufferSize": 1000}
    await comm.disconnect()


@in_event_loop
async def test_a_logged_in_user_who_is_not_a_member_is_refused_with_4403(tenant, other_tenant, member_cookie):
    assert await refused_with(communicator("globex", cookie=member_cookie)) == 4403
    stranger = (await sync_to_async(ensure_user)("sam"))[0]
    assert await refused_with(communicator("acme", cookie=await sync_to_async(session_cookie)(stranger))) == 4403


@in_event_loop
async def test_a_token_with_the_monitor_scope_is_admitted_from_the_authorization_header(tenant):
    token = await sync_to_async(issue_token)(tenant, ["webhook.monitor_read"])
    comm = await connected("acme", headers=[(b"authorization", f"Bearer {token}".encode())])
    await comm.disconnect()


@in_event_loop
async def test_a_browser_passes_its_token_as_a_subprotocol_and_gets_only_the_monitor_protocol_back(tenant):
    token = await sync_to_async(issue_token)(tenant, ["webhook.monitor_read"])
    comm = communicator("acme", subprotocols=["eventhub.monitor", f"bearer.{token}"])
    ok, protocol = await comm.connect(timeout=5)
    assert ok and protocol == "eventhub.monitor"
    await comm.disconnect()


@in_event_loop
async def test_a_token_without_the_monitor_scope_is_refused_with_4403(tenant):
    token = await sync_to_async(issue_token)(tenant, ["webhook.event_read", "webhook.endpoint_read"])
    assert await refused_with(communicator("acme", headers=[(b"authorization", f"Bearer {token}".encode())])) == 4403


@in_event_loop
async def test_another_tenants_token_is_refused_with_4403(tenant, other_tenant):
    token = await sync_to_async(issue_token)(other_tenant, ["webhook.monitor_read"])
    assert await refused_with(communicator("acme", headers=[(b"authorization", f"Bearer {token}".encode())])) == 4403


@in_event_loop
async def test_an_unknown_or_expired_token_is_refused_with_4401(tenant):
    assert await refused_with(communicator("acme", headers=[(b"authorization", b"Bearer not-a-token")])) == 4401
    expired = await sync_to_async(issue_token)(tenant, ["webhook.monitor_read"], expires_in=-60)
    assert await refused_with(communicator("acme", subprotocols=["eventhub.monitor", f"bearer.{expired}"])) == 4401


@in_event_loop
async def test_a_token_in_the_query_string_is_not_accepted_because_it_would_be_logged(tenant):
    token = await sync_to_async(issue_token)(tenant, ["webhook.monitor_read"])
    assert await refused_with(communicator("acme", query=f"token={token}")) == 4401


@in_event_loop
async def test_a_foreign_origin_is_refused(tenant, member_cookie):
    from channels.testing import WebsocketCommunicator

    from eventhub.asgi import application

    comm = WebsocketCommunicator(
        application, "/ws/monitor/acme/", headers=[(b"origin", b"https://evil.example"), (b"cookie", f"sessionid={member_cookie}".encode())]
    )
    ok, _ = await comm.connect(timeout=5)
    assert not ok


@in_event_loop
async def test_a_script_sending_no_origin_is_judged_by_its_token_alone(tenant):
    from channels.testing import WebsocketCommunicator

    from eventhub.asgi import application

    token = await sync_to_async(issue_token)(tenant, ["webhook.monitor_read"])
    scripted = WebsocketCommunicator(application, "/ws/monitor/acme/", headers=[(b"authorization", f"Bearer {token}".encode())])
    assert (await scripted.connect(timeout=5))[0]
    await scripted.disconnect()
    anonymous = WebsocketCommunicator(application, "/ws/monitor/acme/")
    assert await anonymous.connect(timeout=5) == (False, 4401)


def _no_tenant(tenant):
    """A token whose client was detached from its tenant (the application outlives the ApiClient row)."""
    from tenants.models import ApiClient

    token = issue_token(tenant, ["webhook.monitor_read", "webhook.endpoint_read"])
    ApiClient.objects.filter(tenant=tenant).delete()
    return token


TOKENS = {  # kind -> (make the token, may it be used)
    "valid": (lambda t: issue_token(t, ["webhook.monitor_read", "webhook.endpoint_read"]), True),
    "expired": (lambda t: issue_token(t, ["webhook.monitor_read", "webhook.endpoint_read"], expires_in=-60), False),
    "unknown": (lambda t: "not-a-token", False),
    "of no tenant": (_no_tenant, False),
}


@pytest.mark.parametrize("kind", TOKENS)
@in_event_loop
async def test_the_websocket_and_the_api_judge_a_token_by_the_same_function(tenant, kind):
    """One token-to-principal function (tenants.auth, on django-oauth-toolkit) for HTTP and the websocket: a token
    the API refuses with 401 the stream refuses with 4401, and one the API accepts the stream admits."""
    from django.test import Client

    make, usable = TOKENS[kind]
    token = await sync_to_async(make)(tenant)
    api = await sync_to_async(Client().get)("/webhook/acme/endpoints", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (api.status_code == 200) is usable and (api.status_code == 401) is not usable
    comm = communicator("acme", headers=[(b"authorization", f"Bearer {token}".encode())])
    ok, code = await comm.connect(timeout=5)
    assert ok is usable and (code == 4401 or usable)
    await comm.disconnect()


@in_event_loop
async def test_an_application_django_oauth_toolkit_deems_unusable_cannot_open_the_stream(tenant, monkeypatch):
    from oauth2_provider.models import get_application_model

    token = await sync_to_async(issue_token)(tenant, ["webhook.monitor_read"])
    monkeypatch.setattr(get_application_model(), "is_usable", lambda self, request: False)
    assert await refused_with(communicator("acme", headers=[(b"authorization", f"Bearer {token}".encode())])) == 4401

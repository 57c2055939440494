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

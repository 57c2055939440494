"""An open live stream ends when its access does: a member removed, a user deactivated, deleted or logged out, a token
revoked or expired is closed within MONITOR_RECHECK_SECONDS, with the code a new handshake would get. Members who
keep access (another member, a role that still may view) keep streaming."""

import asyncio
import hashlib
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from monitor import access, broadcast, consumers
from monitor.access import bearer_token
from tenants.models import Membership, Role
from tenants.services import add_member, ensure_user, issue_token
from tests.monitor.conftest import connected, in_event_loop, session_cookie
from tests.monitor.test_consumer_stream import item, items_of
from tests.monitor.test_redis_layer import redis_layer  # noqa: F401  (a fixture)

# transaction=True: the consumer checks access from its own task while the test changes rows; on PostgreSQL the
# rolled-back `db` fixture cannot serve both (channels closes the connection around each database_sync_to_async).
pytestmark = pytest.mark.django_db(transaction=True)

RECHECK = 0.05  # seconds; production's default is 2


@pytest.fixture(autouse=True)
def fast_recheck(settings):
    settings.EVENTHUB = {**getattr(settings, "EVENTHUB", {}), "MONITOR_RECHECK_SECONDS": RECHECK}


@pytest.fixture
def checks(monkeypatch):
    """The access checks open connections made, by who (username or token): [close code or None]."""
    made = {}
    judge = consumers.refusal_now

    def counted(scope, tenant_name):
        code = judge(scope, tenant_name)
        made.setdefault(bearer_token(scope) or scope["user"].username, []).append(code)
        return code

    monkeypatch.setattr(consumers, "refusal_now", counted)
    return made


async def until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)


async def passed_checks(checks, who, count=3):
    """Wait until `who`'s connection has passed `count` more access checks from now."""
    seen = len(checks.get(who, ()))
    await until(lambda: len(checks.get(who, ())) >= seen + count)
    assert set(checks[who][seen:]) == {None}


async def close_code(comm, timeout=10.0):
    """The code the server closed with (frames sent before the close are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        output = await comm.receive_output(timeout=max(0.01, deadline - time.monotonic()))
        if output["type"] == "websocket.close":
            return output.get("code")


async def still_streaming(comm, n):
    broadcast.publish("acme", item(n))
    while True:
        frame = await comm.receive_json_from(timeout=5)
        if any(i["body"] == f'{{"n":{n}}}' for i in items_of([frame])):
            return


async def member_comm(tenant, username, role=Role.VIEWER):
    user = (await sync_to_async(ensure_user)(username))[0]
    await sync_to_async(add_member)(tenant, user, role)
    return user, await connected("acme", cookie=await sync_to_async(session_cookie)(user))


async def token_comm(tenant):
    token = await sync_to_async(issue_token)(tenant, ["webhook.monitor_read"])
    return token, await connected("acme", headers=[(b"authorization", f"Bearer {token}".encode())])


def remove(user):
    Membership.objects.filter(user=user, tenant__name="acme").delete()


def deactivate(user):
    user.is_active = False
    user.save(update_fields=["is_active"])


def change_password(user):
    user.set_password("a-new-password-1")
    user.save()


def log_out(user, cookie):
    client = Client()
    client.cookies["sessionid"] = cookie
    assert client.post("/logout/").status_code == 302


HOW_A_USER_LOSES_ACCESS = {
    "removed from the tenant": (lambda user, cookie: remove(user), 4403),
    "deactivated": (lambda user, cookie: deactivate(user), 4401),
    "deleted": (lambda user, cookie: user.delete(), 4401),
    "logged out": (log_out, 4401),
    "password changed elsewhere": (lambda user, cookie: change_password(user), 4401),
}


@pytest.mark.parametrize("change", HOW_A_USER_LOSES_ACCESS, ids=list(HOW_A_USER_LOSES_ACCESS))
@in_event_loop
async def test_a_user_who_loses_access_has_the_stream_closed_within_the_recheck_interval(tenant, change):
    lose_access, expected = HOW_A_USER_LOSES_ACCESS[change]
    user = (await sync_to_async(ensure_user)("mia"))[0]
    await sync_to_async(add_member)(tenant, user, Role.VIEWER)
    cookie = await sync_to_async(session_cookie)(user)
    comm = await connected("acme", cookie=cookie)
    await still_streaming(comm, 1)

    await sync_to_async(lose_access)(user, cookie)
    assert await close_code(comm) == expected
    await comm.disconnect()


@in_event_loop
async def test_role_changes_that_still_allow_viewing_keep_the_stream_open(tenant, checks):
    user, comm = await member_comm(tenant, "mia", Role.VIEWER)
    for n, role in enumerate((Role.EDITOR, Role.OWNER, Role.VIEWER)):
        await sync_to_async(add_member)(tenant, user, role)
        await passed_checks(checks, "mia")
        await still_streaming(comm, n)
    await comm.disconnect()


def token_row(token):
    return AccessToken.objects.filter(token_checksum=hashlib.sha256(token.encode()).hexdigest())


HOW_A_TOKEN_LOSES_ACCESS = {
    "revoked": (lambda token: token_row(token).get().revoke(), 4401),  # what POST /oauth/revoke does
    "expired": (lambda token: token_row(token).update(expires=timezone.now() - timezone.timedelta(seconds=1)), 4401),
    "lost the monitor scope": (lambda token: token_row(token).update(scope="webhook.event_read"), 4403),
}


@pytest.mark.parametrize("change", HOW_A_TOKEN_LOSES_ACCESS, ids=list(HOW_A_TOKEN_LOSES_ACCESS))
@in_event_loop
async def test_a_token_that_loses_access_has_the_stream_closed_within_the_recheck_interval(tenant, change):
    lose_access, expected = HOW_A_TOKEN_LOSES_ACCESS[change]
    token, comm = await token_comm(tenant)
    await still_streaming(comm, 1)

    await sync_to_async(lose_access)(token)
    assert await close_code(comm) == expected
    await comm.disconnect()


async def removing_one_member_leaves_the_others_streaming(tenant, checks):
    mia, mia_comm = await member_comm(tenant, "mia")
    nia, nia_comm = await member_comm(tenant, "nia")
    token, token_comm_ = await token_comm(tenant)

    await sync_to_async(remove)(mia)
    assert await close_code(mia_comm) == 4403
    for who, comm in (("nia", nia_comm), (token, token_comm_)):
        await passed_checks(checks, who)
        await still_streaming(comm, 7)
    for comm in (mia_comm, nia_comm, token_comm_):
        await comm.disconnect()


@in_event_loop
async def test_removing_one_member_closes_only_that_members_stream(tenant, checks):
    await removing_one_member_leaves_the_others_streaming(tenant, checks)


@pytest.mark.redis
@in_event_loop
async def test_on_the_redis_layer_removing_one_member_closes_only_that_members_stream(tenant, checks, redis_layer):  # noqa: F811
    await removing_one_member_leaves_the_others_streaming(tenant, checks)
    await get_channel_layer().flush()


@in_event_loop
async def test_a_check_that_cannot_be_made_closes_the_stream_rather_than_trusting_it(tenant, checks, monkeypatch):
    user, comm = await member_comm(tenant, "mia")
    await passed_checks(checks, "mia")

    def database_away(scope, tenant_name):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(access, "refusal", database_away)
    assert await close_code(comm) == 1011
    await comm.disconnect()

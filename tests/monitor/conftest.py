"""Fixtures for the live monitor: members with a session cookie, and websocket communicators on the real ASGI app."""

import functools

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.test import Client

from tenants.models import Role
from tenants.services import add_member, ensure_user

ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets a new channel layer instance (no groups left over from an earlier test's event loop)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def no_access_recheck_unless_asked(settings):
    """Open connections re-check their access every MONITOR_RECHECK_SECONDS; tests about other things do not wait
    that long, and on PostgreSQL a check from the consumer's task cannot share the rolled-back `db` fixture's
    connection. test_consumer_revocation.py turns it on with a short interval."""
    settings.EVENTHUB = {**getattr(settings, "EVENTHUB", {}), "MONITOR_RECHECK_SECONDS": 3600}


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def member(tenant):
    user, _ = ensure_user("mia")
    add_member(tenant, user, Role.VIEWER)
    return user


@pytest.fixture
def member_cookie(member):
    return session_cookie(member)


def communicator(tenant_name, *, cookie=None, headers=(), subprotocols=None, query=""):
    from eventhub.asgi import application

    all_headers = [ORIGIN, (b"host", b"127.0.0.1"), *headers]
    if cookie:
        all_headers.append((b"cookie", f"sessionid={cookie}".encode()))
    path = f"/ws/monitor/{tenant_name}/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=all_headers, subprotocols=subprotocols)


async def connected(tenant_name, **kwargs):
    """A communicator that was admitted, with its hello frame read."""
    comm = communicator(tenant_name, **kwargs)
    ok, code = await comm.connect(timeout=5)
    assert ok, f"refused with {code}"
    hello = await comm.receive_json_from(timeout=5)
    assert hello["kind"] == "hello"
    return comm


def in_event_loop(test):
    """Run an async test through async_to_sync: its database calls (sync_to_async, database_sync_to_async) come
    back to the test's own thread, so the fast rolled-back `db` fixture is enough (no transactional flush)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        return async_to_sync(test)(*args, **kwargs)

    return run

"""The fast way in: POST /webhook/{tenant}/events through the ASGI application answers as the view does, stores
through the group committer, and hands Django whatever it cannot answer exactly alike."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async as sync_to_async  # closes its connection after each call
from oauth2_provider.models import AccessToken

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, Event
from subscriptions.pipeline.group_commit import committer
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.services import issue_token

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/webhook/acme/events"


@pytest.fixture
def routed(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]


@pytest.fixture
def app():
    from eventhub.asgi import application

    return application


async def call(app, body, token=None, path=URL, content_type="application/json", query=b"", host=b"127.0.0.1"):
    """One HTTP request through the ASGI application: (status, {header: value}, JSON body)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = [(b"host", host), (b"content-type", content_type.encode()), (b"content-length", str(len(raw)).encode())]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": query, "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000)}
    sent, pending = [], [{"type": "http.request", "body": raw, "more_body": False}]
    done = asyncio.Event()

    async def receive():
        if pending:
            return pending.pop(0)
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await asyncio.wait_for(app(scope, receive, send), 30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    is_json = headers.get("content-type", "").startswith("application/json")
    return start["status"], headers, json.loads(content) if content and is_json else content


def served_by_committer():
    return committer().requests


@pytest.mark.asyncio
async def test_after_django_accepted_a_token_the_next_publish_is_stored_by_the_group_committer_and_answered_alike(app, tenant, routed):
    token = await sync_to_async(issue_token)(tenant, ["webhook.event_publish"])
    before = served_by_committer()
    first = await call(app, {"type": "product.created", "id": "e1", "data": {}}, token)  # Django: token not seen yet
    assert served_by_committer() == before
    second = await call(app, {"type": "product.created", "id": "e2", "data": {}}, token)
    assert served_by_committer() == before + 1
    assert first[0] == second[0] == 202
    assert second[2] == [{"id": "e2", "created": True, "deliveries": 1}]
    # The security middleware's headers, as Django sent them, on the fast answer too.
    same = {"x-frame-options", "x-content-type-options", "referrer-policy", "content-security-policy", "content-type"}
    assert {k: v for k, v in first[1].items() if k in same} == {k: v for k, v in second[1].items() if k in same}
    assert len(same & set(second[1])) == len(same)
    assert await sync_to_async(lambda: sorted(Event.objects.values_list("event_id", flat=True)))() == ["e1", "e2"]
    assert await sync_to_async(Delivery.objects.count)() == 2


@pytest.mark.asyncio
async def test_what_the_fast_path_cannot_answer_exactly_gets_djangos_answer(app, tenant, other_tenant, routed):
    token = await sync_to_async(issue_token)(tenant, ["webhook.event_publish"])
    reader = await sync_to_async(issue_token)(tenant, ["webhook.event_read"])
    assert (await call(app, {"type": "product.created", "data": {}}, token))[0] == 202  # learned and cached
    before = served_by_committer()
    bad_json = await call(app, b'{"type": ', token)
    assert bad_json[0] == 400 and "not valid JSON" in bad_json[2]["message"]
    assert (await call(app, b"<x/>", token, content_type="application/xml"))[0] == 415
    assert (await call(app, {"type": "product.created", "data": {}}, token, path="/webhook/globex/events"))[0] == 403
    assert (await call(app, {"type": "product.created", "data": {}}, reader))[0] == 403
    assert (await call(app, {"type": "product.created", "data": {}}, "not-a-token"))[0] == 401
    assert (await call(app, {"type": "product.created", "data": {}}, token, query=b"x=%00"))[0] == 400
    assert (await call(app, {"type": "product.created", "data": {}}, token, host=b"evil.example"))[0] == 400
    assert served_by_committer() == before  # none of them reached the committer
    invalid = await call(app, {"type": "no.such.type", "data": {}}, token)  # the fast path's own 400, the view's words
    assert invalid[0] == 400 and invalid[2]["problems"] == [{"field": "type", "message": "Unknown event type 'no.such.type'."}]
    assert await sync_to_async(Event.objects.count)() == 1


@pytest.mark.asyncio
async def test_a_revoked_token_is_refused_at_once(app, tenant, routed):
    token = await sync_to_async(issue_token)(tenant, ["webhook.event_publish"])
    assert (await call(app, {"type": "product.created", "data": {}}, token))[0] == 202
    assert (await call(app, {"type": "product.created", "data": {}}, token))[0] == 202
    await sync_to_async(lambda: AccessToken.objects.all().delete())()
    refused = await call(app, {"type": "product.created", "data": {}}, token)
    assert refused[0] == 401 and refused[1]["www-authenticate"].startswith("Bearer")


@pytest.mark.asyncio
async def test_the_publish_rate_limit_counts_fast_requests_too(app, tenant, routed, settings):
    settings.EVENTHUB = {"RATE_LIMITS": {"api": None, "ingest": "3/minute", "token": None}}
    token = await sync_to_async(issue_token)(tenant, ["webhook.event_publish"])
    statuses = [(await call(app, {"type": "product.created", "data": {}}, token))[0] for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    assert await sync_to_async(Event.objects.count)() == 3

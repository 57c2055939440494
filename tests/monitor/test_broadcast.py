"""broadcast: never blocks the publisher (drops and counts when full); the pipeline's signals reach the viewer."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer

from monitor.broadcast import Broadcaster, make_message
from subscriptions.models import Delivery, Endpoint
from tests.monitor.conftest import connected

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]


async def test_a_full_queue_drops_and_counts_instead_of_waiting(tenant, member_cookie):
    sender = Broadcaster(max_messages=3)
    sender.attach()
    held = hold_the_sender(sender)
    results = [sender.publish("acme", make_message("broker", "acme", body="x")) for _ in range(5)]
    # publish is plain (not awaited) and the sender task cannot drain while it runs (in-memory: it runs on this very
    # loop; Redis: its thread's loop is held): had publish waited for room, it would have waited forever.
    assert results == [True, True, True, False, False]
    assert (sender.stats.published, sender.stats.dropped, sender.stats.sent) == (3, 2, 0)
    held.set()
    deadline = time.monotonic() + 30
    while sender.stats.sent < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert sender.stats.sent == 3
    assert sender.publish("acme", make_message("broker", "acme", body="x")) is True


def hold_the_sender(sender) -> threading.Event:
    """With a cross-process layer the sender drains on its own thread's loop: block that loop until the returned event
    is set, so the queue fills as it would when the layer is slower than the pipeline. Nothing to hold in-memory."""
    release = threading.Event()
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        return release
    home, blocked = sender._current_home(), threading.Event()
    home.loop.call_soon_threadsafe(lambda: (blocked.set(), release.wait(60)))
    assert blocked.wait(30), "the sender's loop never ran the hold"
    return release


@pytest.mark.parametrize("channel_layer", ["in-memory"], indirect=True)
async def test_with_the_in_memory_layer_and_nobody_watching_nothing_is_queued(tenant):
    sender = Broadcaster(max_messages=3)
    assert sender.publish("acme", make_message("broker", "acme")) is False
    assert sender.stats.unheard == 1 and sender.stats.dropped == 0


def record(tenant):
    from subscriptions.pipeline.recording import IncomingEvent, record_events

    return record_events(tenant, [IncomingEvent("product.created", {"id": "p1", "name": "<b>x</b>"}, id="evt-1")])


async def test_an_event_ingested_over_http_shows_up_with_its_id_for_the_log(tenant, member_cookie):
    comm = await connected("acme", cookie=member_cookie)
    await sync_to_async(record)(tenant)
    frame = await comm.receive_json_from(timeout=5)
    [item] = frame["items"]
    assert item["kind"] == "ingested" and item["type"] == "product.created" and item["eventId"] == "evt-1"
    assert item["body"] == '{"id":"p1","name":"<b>x</b>"}' and item["origin"] == "http"
    await comm.disconnect()


def attempt_and_announce(tenant):
    from django.utils import timezone

    from subscriptions.models import Event
    from subscriptions.signals import AttemptOutcome, announce, deliveries_attempted, endpoint_disabled

    now = timezone.now()
    endpoint = Endpoint.objects.create(tenant=tenant, url="https://hooks.example.com/x", events=["*"], created_at=now, modified_at=now)
    event = Event.objects.create(tenant=tenant, event_id="e1", type="order.created", timestamp=now, received_at=now)
    delivery = Delivery.objects.create(tenant=tenant, event=event, endpoint=endpoint, url=endpoint.url, event_type="order.created", body="{}", created_at=now, attempt_count=3)
    attempt = AttemptOutcome(tenant.pk, delivery.pk, endpoint.pk, "order.created", endpoint.url, delivery.webhook_id, 3, "failed",
                             500, "", "HTTP 500", 12.5, now, "failed")
    announce(deliveries_attempted, attempts=[attempt])  # the receiver looks the tenant's name up once
    announce(endpoint_disabled, endpoint=Endpoint.objects.get(pk=endpoint.pk), reason="410 Gone")
    return delivery.pk


async def test_delivery_outcomes_and_disabled_endpoints_show_up(tenant, member_cookie):
    comm = await connected("acme", cookie=member_cookie)
    delivery_id = await sync_to_async(attempt_and_announce)(tenant)
    items = []
    while len(items) < 2:
        items += (await comm.receive_json_from(timeout=5))["items"]
    delivered, disabled = items
    assert delivered["kind"] == "delivery" and delivered["outcome"] == "failed" and delivered["deliveryId"] == delivery_id
    assert '"statusCode":500' in delivered["body"] and delivered["attempt"] == 3
    assert disabled["kind"] == "endpoint_disabled" and disabled["outcome"] == "disabled" and "410 Gone" in disabled["body"]
    await comm.disconnect()

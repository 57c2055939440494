"""The broker tap against real RabbitMQ: a message on a source's exchange reaches the tenant's live viewer."""

import asyncio
import json
import socket
import threading
import time
import uuid

import pika
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from monitor.bridge import Bridge
from subscriptions.models import Source
from tests.conftest import SERVICE_URLS
from tests.monitor.conftest import connected

pytestmark = [pytest.mark.rabbitmq, pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]


@pytest.fixture
def rabbit():
    """(channel, exchange): a fresh topic exchange, deleted afterwards with everything the test declared."""
    conn = pika.BlockingConnection(pika.URLParameters(SERVICE_URLS["rabbitmq"]))
    channel = conn.channel()
    exchange = f"test.monitor.{uuid.uuid4().hex[:10]}"
    channel.exchange_declare(exchange, exchange_type="topic", durable=False, auto_delete=False)
    yield channel, exchange
    channel.exchange_delete(exchange)
    conn.close()


def make_source(tenant, exchange, keys=("shop.#",), **values):
    now = timezone.now()
    return Source.objects.create(tenant=tenant, name=values.pop("name", "shop"), exchange=exchange, binding_keys=list(keys), created_at=now, modified_at=now, **values)


@pytest.fixture
def bridge():
    started = []

    def start():
        bridge = Bridge(SERVICE_URLS["rabbitmq"], refresh=0.2, max_backoff=0.5)
        bridge.start()
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        bridge.stop()


async def synced(bridge, taps):
    """Wait until the bridge has refreshed and holds `taps` taps."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        bridge.synced.clear()
        await asyncio.to_thread(bridge.synced.wait, 5)
        if len(bridge.taps) == taps:
            return
    raise AssertionError(f"bridge holds {len(bridge.taps)} taps, not {taps}")


async def items(comm, count, timeout=5):
    found = []
    while len(found) < count:
        found += (await comm.receive_json_from(timeout=timeout))["items"]
    return found


async def test_a_message_on_a_sources_exchange_reaches_the_tenants_viewer_with_its_properties(tenant, member_cookie, rabbit, bridge):
    channel, exchange = rabbit
    await sync_to_async(make_source)(tenant, exchange)
    comm = await connected("acme", cookie=member_cookie)
    tap = bridge()
    await synced(tap, 1)
    props = pika.BasicProperties(content_type="application/json", type="product.created", message_id="m-1", headers={"trace": b"\xffabc", "n": 3})
    channel.basic_publish(exchange, "shop.product.created", json.dumps({"id": "p1"}).encode(), props)
    channel.basic_publish(exchange, "warehouse.stock.changed", b"{}")  # not bound: not shown
    [item] = await items(comm, 1)
    assert item["kind"] == "broker" and item["tenant"] == "acme" and item["source"] == "shop"
    assert item["exchange"] == exchange and item["routingKey"] == "shop.product.created" and item["type"] == "product.created"
    assert item["body"] == '{"id": "p1"}'
    # the dispatcher's spelling (amqplib names; bytes that are not UTF-8 as base64), as the ingested row will show it
    assert item["properties"]["messageId"] == "m-1" and item["eventId"] == "m-1"
    assert item["properties"]["headers"] == {"trace": "base64:/2FiYw==", "n": 3}
    assert await comm.receive_nothing(0.5)
    await comm.disconnect()


async def test_the_tap_takes_nothing_from_the_work_queue(tenant, member_cookie, rabbit, bridge):
    channel, exchange = rabbit
    work = channel.queue_declare(f"test.work.{uuid.uuid4().hex[:8]}", exclusive=True).method.queue
    channel.queue_bind(work, exchange, routing_key="shop.#")
    await sync_to_async(make_source)(tenant, exchange, type_from="routing_key")
    comm = await connected("acme", cookie=member_cookie)
    await synced(bridge(), 1)
    for n in range(3):
        channel.basic_publish(exchange, "shop.order.placed", f"order {n}".encode())
    assert [i["body"] for i in await items(comm, 3)] == ["order 0", "order 1", "order 2"]
    assert channel.queue_declare(work, passive=True).method.message_count == 3
    channel.queue_delete(work)
    await comm.disconnect()


async def test_sources_added_or_disabled_later_are_tapped_or_released_at_the_next_refresh(tenant, member_cookie, rabbit, bridge):
    channel, exchange = rabbit
    comm = await connected("acme", cookie=member_cookie)
    tap = bridge()
    await synced(tap, 0)
    source = await sync_to_async(make_source)(tenant, exchange, keys=["erp.*"], name="erp")
    await synced(tap, 1)
    channel.basic_publish(exchange, "erp.invoice", b"first")
    assert [i["body"] for i in await items(comm, 1)] == ["first"]
    source.enabled = False
    await sync_to_async(source.save)()
    await synced(tap, 0)
    channel.basic_publish(exchange, "erp.invoice", b"second")
    assert await comm.receive_nothing(0.5)
    await comm.disconnect()


async def test_a_source_whose_exchange_does_not_exist_yet_is_tapped_once_it_does(tenant, member_cookie, rabbit, bridge):
    channel, _ = rabbit
    late = f"test.monitor.late.{uuid.uuid4().hex[:8]}"
    await sync_to_async(make_source)(tenant, late, keys=["#"])
    comm = await connected("acme", cookie=member_cookie)
    tap = bridge()
    await synced(tap, 0)
    assert "NOT_FOUND" in next(iter(tap.failed.values()))
    channel.exchange_declare(late, exchange_type="topic", durable=False)
    try:
        await synced(tap, 1)
        channel.basic_publish(late, "anything.at.all", b"<img src=x onerror=alert(1)>")
        [item] = await items(comm, 1)
        assert item["body"] == "<img src=x onerror=alert(1)>" and item["type"] == "all"
    finally:
        channel.exchange_delete(late)
    await comm.disconnect()


async def test_an_unreachable_broker_is_retried_with_back_off_without_crashing():
    # A "broker" that accepts and hangs up at once, noting when each try came.
    server = socket.create_server(("127.0.0.1", 0))
    tries = []

    def refuse():
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            tries.append(time.monotonic())
            client.close()

    threading.Thread(target=refuse, daemon=True).start()
    bridge = Bridge(f"amqp://guest:guest@127.0.0.1:{server.getsockname()[1]}/", refresh=0.2, max_backoff=1.5)
    bridge.start()
    try:
        deadline = time.monotonic() + 60
        while len(tries) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(tries) >= 4 and bridge.is_alive() and not bridge.connected.is_set()
    finally:
        bridge.stop()
        server.close()
    assert not bridge.is_alive()
    # Waits of 1 s, then doubled up to the 1.5 s cap, each with up to 20 % jitter: never a hot loop. (Lower bounds
    # only: a busy machine makes the gaps longer, never shorter.)
    gaps = [b - a for a, b in zip(tries, tries[1:])]
    assert gaps[0] >= 0.8 and gaps[1] >= 1.2 and gaps[2] >= 1.2, gaps

"""What a watcher receives: filtered, batched at most every 100 ms, bounded per connection, pausable."""

import asyncio
import time

import pytest

from eventhub.conf import hub_setting
from monitor import broadcast
from monitor.broadcast import make_message
from monitor.consumers import FULL_FRAME_ITEMS, MonitorConsumer
from tests.monitor.conftest import in_event_loop, communicator, connected

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("channel_layer")]


def item(n=0, tenant="acme", **fields):
    fields.setdefault("type", "product.created")
    fields.setdefault("routingKey", "shop.product.created")
    return make_message("broker", tenant, body={"n": n}, **fields)


async def frames_until(comm, predicate, timeout=5):
    """Frames received until predicate(frames) holds."""
    frames, deadline = [], time.monotonic() + timeout
    while not predicate(frames):
        frames.append(await comm.receive_json_from(timeout=max(0.01, deadline - time.monotonic())))
    return frames


def items_of(frames):
    return [i for f in frames if f["kind"] == "batch" for i in f["items"]]


@in_event_loop
async def test_a_published_item_reaches_the_tenants_watcher_and_no_other_tenant(tenant, other_tenant, member_cookie):
    comm = await connected("acme", cookie=member_cookie)
    broadcast.publish("globex", item(1, tenant="globex"))
    broadcast.publish("acme", item(2))
    [frame] = await frames_until(comm, lambda f: len(f) == 1)
    assert frame["kind"] == "batch" and frame["dropped"] == 0
    [received] = frame["items"]
    assert received["tenant"] == "acme" and received["body"] == '{"n":2}' and received["kind"] == "broker"
    broadcast.publish("globex", item(3, tenant="globex"))
    broadcast.publish("acme", item(4))  # a marker: what came before it has come
    assert [i["body"] for i in items_of(await frames_until(comm, lambda f: len(items_of(f)) >= 1))] == ['{"n":4}']
    await comm.disconnect()


@in_event_loop
async def test_the_filter_keeps_matching_types_routing_keys_sources_and_outcomes(tenant, member_cookie):
    comm = await connected("acme", cookie=member_cookie)
    await comm.send_json_to({"action": "filter", "types": ["order.*"], "routingKey": "shop.#", "source": "shop"})
    ack = await comm.receive_json_from(timeout=5)
    assert ack == {"kind": "filter", "filter": {"types": ["order.*"], "routingKey": "shop.#", "source": "shop", "outcome": None}, "keep": []}
    broadcast.publish("acme", item(1, type="product.created", source="shop"))
    broadcast.publish("acme", item(2, type="order.created", routingKey="other.order", source="shop"))
    broadcast.publish("acme", item(3, type="order.created", routingKey="shop.order.created", source="erp"))
    broadcast.publish("acme", item(4, type="order.created", routingKey="shop.order.created", source="shop"))
    broadcast.publish("acme", item(40, type="order.done", routingKey="shop.order.done", source="shop"))  # a marker, last
    frames = await frames_until(comm, lambda f: any(i["body"] == '{"n":40}' for i in items_of(f)))
    assert [i["body"] for i in items_of(frames)] == ['{"n":4}', '{"n":40}']

    await comm.send_json_to({"action": "filter", "outcome": "failed"})
    await comm.receive_json_from(timeout=5)
    broadcast.publish("acme", item(5, outcome="succeeded"))
    broadcast.publish("acme", item(6, outcome="failed"))
    frames = await frames_until(comm, lambda f: len(items_of(f)) >= 1)
    assert [i["body"] for i in items_of(frames)] == ['{"n":6}']
    await comm.disconnect()


@in_event_loop
async def test_a_new_filter_names_the_shown_items_that_still_pass_so_the_viewer_drops_the_rest(tenant, member_cookie):
    comm = await connected("acme", cookie=member_cookie)
    broadcast.publish("acme", item(1, type="product.created"))
    broadcast.publish("acme", item(2, type="order.created"))
    broadcast.publish("acme", item(3, type="product.deleted"))
    shown = items_of(await frames_until(comm, lambda f: len(items_of(f)) >= 3))
    assert [i["seq"] for i in shown] == [1, 2, 3]  # numbered as sent
    await comm.send_json_to({"action": "filter", "types": ["product.*"]})
    ack = await comm.receive_json_from(timeout=5)
    assert ack["kind"] == "filter" and ack["keep"] == [1, 3]
    await comm.send_json_to({"action": "filter", "types": ["order.*"]})
    assert (await comm.receive_json_from(timeout=5))["keep"] == []  # item 2 was already removed by the last filter
    await comm.disconnect()


@pytest.mark.parametrize(
    "message, field",
    [
        ({"action": "filter", "types": "product.*"}, "types"),
        ({"action": "filter", "types": ["<script>"]}, "types"),
        ({"action": "filter", "types": ["a"] * 21}, "types"),
        ({"action": "filter", "routingKey": "x" * 300}, "routingKey"),
        ({"action": "filter", "outcome": "exploded"}, "outcome"),
        ({"action": "filter", "source": 5}, "source"),
        ({"action": "filter", "surprise": 1}, "surprise"),
    ],
)
@in_event_loop
async def test_a_bad_filter_is_answered_with_an_error_and_the_old_filter_stays(tenant, member_cookie, message, field):
    comm = await connected("acme", cookie=member_cookie)
    await comm.send_json_to({"action": "filter", "types": ["order.*"]})
    await comm.receive_json_from(timeout=5)
    await comm.send_json_to(message)
    error = await comm.receive_json_from(timeout=5)
    assert error["kind"] == "error" and error["code"] == "invalid_filter"
    assert [d["field"] for d in error["details"]] == [field]
    broadcast.publish("acme", item(1, type="product.created"))
    broadcast.publish("acme", item(2, type="order.created"))
    frames = await frames_until(comm, lambda f: len(items_of(f)) >= 1)
    assert [i["type"] for i in items_of(frames)] == ["order.created"]
    await comm.disconnect()


@in_event_loop
async def test_messages_that_are_not_actions_get_an_error_frame_and_the_stream_goes_on(tenant, member_cookie):
    comm = await connected("acme", cookie=member_cookie)
    for bad in ("not json", '["a list"]', '{"action": "explode"}', "x" * 9000):
        await comm.send_to(text_data=bad)
        error = await comm.receive_json_from(timeout=5)
        assert error["kind"] == "error" and error["code"] == "invalid_message", bad[:20]
    await comm.send_to(bytes_data=b"\x00\x01")
    assert (await comm.receive_json_from(timeout=5))["code"] == "invalid_message"
    broadcast.publish("acme", item(1))
    assert len(items_of(await frames_until(comm, lambda f: len(items_of(f)) >= 1))) == 1
    await comm.disconnect()


@in_event_loop
async def test_paused_watchers_get_nothing_and_are_told_on_resume_how_many_were_skipped(tenant, member_cookie):
    comm = await connected("acme", cookie=member_cookie)
    await comm.send_json_to({"action": "filter", "types": ["product.*"]})
    await comm.receive_json_from(timeout=5)
    await comm.send_json_to({"action": "pause"})
    assert await comm.receive_json_from(timeout=5) == {"kind": "paused"}
    sent_before = broadcast.broadcaster().stats.sent
    for n in range(7):
        broadcast.publish("acme", item(n))
    broadcast.publish("acme", item(8, type="order.created"))  # filtered out anyway: not counted as skipped
    deadline = time.monotonic() + 30
    while broadcast.broadcaster().stats.sent < sent_before + 8 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    # A paused watcher gets nothing: an absence, so a window (nothing observable marks the items' arrival).
    assert await comm.receive_nothing(0.4)
    await comm.send_json_to({"action": "resume"})
    assert await comm.receive_json_from(timeout=5) == {"kind": "resumed", "skipped": 7}
    broadcast.publish("acme", item(99))
    assert [i["body"] for i in items_of(await frames_until(comm, lambda f: len(items_of(f)) >= 1))] == ['{"n":99}']
    await comm.disconnect()


@in_event_loop
async def test_a_burst_is_paced_a_full_frame_then_100_ms_and_nothing_is_lost(tenant, member_cookie, monkeypatch):
    # The pacing rule is the server's: timed where the consumer sends, not where this test's reader happens to be
    # scheduled (a reader delayed on one frame would see the next arrive right after it).
    sends = []
    send_json = MonitorConsumer.send_json

    async def timed(self, content, close=False):
        if content.get("kind") == "batch":
            sends.append((asyncio.get_running_loop().time(), len(content["items"])))
        return await send_json(self, content, close)

    monkeypatch.setattr(MonitorConsumer, "send_json", timed)
    comm = await connected("acme", cookie=member_cookie)
    total = 0

    async def read():
        nonlocal total
        while total < 750:
            frame = await comm.receive_json_from(timeout=5)
            assert frame["kind"] == "batch" and frame["dropped"] == 0
            total += len(frame["items"])

    reader = asyncio.create_task(read())
    for burst in range(5):  # 5 bursts of 150, 60 ms apart: 750 items over ~300 ms
        for n in range(150):
            broadcast.publish("acme", item(burst * 150 + n))
        await asyncio.sleep(0.06)
    await asyncio.wait_for(reader, 30)
    assert total == 750 and sum(count for _, count in sends) == 750
    # After a full frame (a burst) the next waits the whole interval; after a smaller one, a tenth of it (5 ms of
    # slack: the time is taken just after the consumer decided). So the items leave batched, however the channel
    # layer hands them over: at least ten a frame on average.
    interval = hub_setting("MONITOR_BATCH_INTERVAL")
    for (sent, count), (following, _) in zip(sends, sends[1:]):
        pause = interval if count >= FULL_FRAME_ITEMS else interval / 10
        assert following - sent >= pause - 0.005, (sends, pause)
    assert 2 <= len(sends) <= 75, sends
    await comm.disconnect()


@in_event_loop
async def test_a_slow_client_loses_the_oldest_items_is_told_how_many_and_the_buffer_stays_bounded(tenant, member_cookie):
    comm = communicator("acme", cookie=member_cookie)
    comm._output_queue = asyncio.Queue(maxsize=1)  # the consumer's sends wait until this client reads: a slow client
    assert (await comm.connect(timeout=5))[0]
    assert (await comm.receive_json_from(timeout=5))["kind"] == "hello"
    sent = 0
    for round_ in range(6):
        for n in range(1000):
            broadcast.publish("acme", item(sent))
            sent += 1
        await asyncio.sleep(0.05)
    consumer_buffers = []
    received, dropped, deadline = [], 0, time.monotonic() + 60
    while len(received) + dropped < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.2)  # read one frame every 200 ms
        frame = await comm.receive_json_from(timeout=5)
        consumer_buffers.append(len(frame["items"]))
        received += [int(i["body"][5:-1]) for i in frame["items"]]
        dropped += frame["dropped"]
    assert len(received) + dropped == sent
    assert dropped >= 3000 and max(consumer_buffers) <= 1000
    assert received[-1] == sent - 1, "the newest items survive"
    assert received == sorted(received), "order is kept; what is lost is the oldest"
    await comm.disconnect()


@in_event_loop
async def test_a_body_over_64_kib_is_cut_with_a_marker_and_smaller_ones_arrive_whole(tenant, member_cookie):
    comm = await connected("acme", cookie=member_cookie)
    big = "é" * 40_000  # 80,000 bytes of UTF-8
    broadcast.publish("acme", make_message("broker", "acme", body=big.encode()))
    broadcast.publish("acme", make_message("broker", "acme", body=b"\xff\xfe not utf-8"))
    frames = await frames_until(comm, lambda f: len(items_of(f)) >= 2)
    cut, odd = items_of(frames)
    assert cut["truncated"] is True and cut["size"] == 80_000
    assert len(cut["body"].encode()) <= 64 * 1024 and cut["body"].startswith("ééé")
    assert odd["body"] == "\ufffd\ufffd not utf-8" and "truncated" not in odd
    await comm.disconnect()

"""Broker dispatch against the real RabbitMQ: seed messages in, deliveries out; dead letters; dedupe; two consumers."""

import json
import re
from contextlib import ExitStack
import uuid

import pika
import pytest
from django.db import connection

from subscriptions.catalog import builtin_definitions
from subscriptions.broker.dispatch import REASON_HEADER, start_in_background
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import DeadLetter, Delivery, Event
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.signals import message_dead_lettered
from subscriptions.broker.sources import create_source
from tests.subscriptions.broker_helpers import running_dispatcher, wait_until

pytestmark = [pytest.mark.rabbitmq, pytest.mark.django_db(transaction=True)]

ENTRECODE = {key: d for key, d in builtin_definitions().items() if d["source"] == "entrecode" and isinstance(d["example"], dict)}


@pytest.fixture
def run_dispatcher(broker):
    """run_dispatcher(**options) -> a Dispatcher consuming on a thread, stopped and joined at teardown."""
    with ExitStack() as stack:
        yield lambda **options: stack.enter_context(running_dispatcher(**broker.dispatcher_options(batch_ms=50, **options)))


def source(tenant, broker, keys=("#",), **values):
    return create_source(tenant, {"name": f"s-{uuid.uuid4().hex[:6]}", "exchange": broker.exchange, "binding_keys": list(keys), **values})


def routing_key(definition):
    example = definition["example"]
    return re.sub(r"\{(\w+)\}", lambda m: str(example.get(m.group(1), m.group(1))), definition["routing_key"] or "x")


def test_the_seed_examples_become_events_and_deliveries(tenant, broker, run_dispatcher):
    src = source(tenant, broker)
    for key in ENTRECODE:
        apply_subscription_change(tenant, SubscriptionChange(key, "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/ec", "events": list(ENTRECODE)})
    run_dispatcher()
    sent = {}
    for key, definition in ENTRECODE.items():
        message_id = str(uuid.uuid4())
        sent[message_id] = (key, routing_key(definition))
        broker.publish(routing_key(definition), definition["example"], type=key, message_id=message_id, app_id="28c365d5", timestamp=1700000000123)
    # entrecode also publishes without the type property: the routing key's last word names it.
    broker.publish("035af82b.mymodel.e9.entryCreated", ENTRECODE["entryCreated"]["example"], type=None, message_id="no-type")
    wait_until(lambda: Event.objects.count() == len(sent) + 1, what="every seed message as an event")
    for event in Event.objects.exclude(event_id="no-type"):
        key, rk = sent[event.event_id]
        assert (event.type, event.routing_key, event.origin, event.source_id) == (key, rk, "broker", src.id)
        assert event.data == ENTRECODE[key]["example"]
        assert event.properties == {"persistent": True, "contentType": "application/json", "messageId": event.event_id, "type": key,
                                    "appId": "28c365d5", "timestamp": 1700000000123}
        assert event.timestamp.isoformat() == "2023-11-14T22:13:20.123000+00:00"
    assert Event.objects.get(event_id="no-type").type == "entryCreated"
    assert Delivery.objects.count() == len(sent) + 1
    assert broker.depth(broker.queue) == 0 and not DeadLetter.objects.exists()


MALFORMED = [
    # (routing key, body, properties, reason fragment)
    ("a.entryCreated", b"{not json", {}, "body is not JSON"),
    ("a.entryCreated", b"\xff\xfe{}", {}, "body is not UTF-8"),
    ("a.entryCreated", b"[1, 2]", {}, "body is a JSON array, not an object"),
    ("a.entryCreated", b'{"big": "' + b"x" * (1024 * 1024) + b'"}', {}, "over the limit of 1048576 bytes"),
    ("a.entryCreated", b"{}", {"content_type": "text/plain"}, "content type 'text/plain' is not JSON"),
    ("", b"{}", {"type": None}, "no event type"),
    ("a.somethingElse", b"{}", {"type": None}, "unknown event type 'somethingElse'"),
    ("unbound.entryCreated", b"{}", {}, "no enabled source matches"),
]


def test_malformed_messages_are_dead_lettered_with_their_reason_and_the_queue_moves_on(tenant, broker, run_dispatcher, caplog):
    caplog.set_level("WARNING", logger="subscriptions.broker.dispatch")
    source(tenant, broker, keys=("a.#", ""))
    announced = []
    message_dead_lettered.connect(lambda dead_letter, **kw: announced.append(dead_letter.reason), weak=False, dispatch_uid="t")
    try:
        run_dispatcher()
        # A binding left behind by a source removed while no dispatcher ran: its messages match no source.
        broker.channel.queue_bind(broker.queue, broker.exchange, "unbound.#")
        for rk, body, props, _ in MALFORMED:
            broker.publish(rk, body, **{"type": "entryCreated", **props})
        broker.publish("a.entryCreated", {"fine": True}, message_id="after")
        wait_until(lambda: Event.objects.filter(event_id="after").exists(), what="the good message after the bad ones")
        wait_until(lambda: DeadLetter.objects.count() == len(MALFORMED), what="a dead letter per malformed message")
        wait_until(lambda: len(announced) == len(MALFORMED) and broker.depth(broker.queue) == 0, what="announced and acknowledged")
    finally:
        message_dead_lettered.disconnect(dispatch_uid="t")
    rows = list(DeadLetter.objects.order_by("id"))
    for row, (rk, body, _, reason) in zip(rows, MALFORMED):
        assert reason in row.reason and row.routing_key == rk and row.body_size == len(body)
        assert row.tenant_id == (None if rk.startswith("unbound") else tenant.id)
    assert len(rows[3].body) == 1024 * 1024  # kept, bounded
    wait_until(lambda: broker.depth(broker.dead_queue) == len(MALFORMED), what="every dead letter published (after its commit)")
    dead = broker.drain(broker.dead_queue)
    assert len(dead) == len(MALFORMED)
    for (props, body), (rk, sent, _, reason) in zip(dead, MALFORMED):
        assert reason in props.headers[REASON_HEADER] and body == sent and props.delivery_mode == 2
    assert sorted(announced) == sorted(r.reason for r in rows)
    assert Event.objects.count() == 1
    logged = [r for r in caplog.records if r.name == "subscriptions.broker.dispatch" and r.getMessage().startswith("dead-lettered")]
    assert sorted(r.routing_key for r in logged) == sorted(rk for rk, *_ in MALFORMED)
    assert all(r.reason and r.exchange == broker.exchange for r in logged)


def test_the_same_message_id_twice_is_one_event_and_so_is_a_repeated_message_without_id(tenant, broker, run_dispatcher):
    source(tenant, broker)
    run_dispatcher()
    for _ in range(3):
        broker.publish("a.entryCreated", {"n": 1}, message_id="same-id")
        broker.publish("a.entryUpdated", {"n": 2}, message_id=None)
    broker.publish("a.entryUpdated", {"n": 3}, message_id=None)
    wait_until(lambda: broker.depth(broker.queue) == 0 and Event.objects.count() >= 3, what="the queue drained")
    wait_until(lambda: Event.objects.count() == 3)
    assert Event.objects.filter(event_id="same-id").count() == 1
    assert sorted(e.data["n"] for e in Event.objects.all()) == [1, 2, 3]


def test_two_dispatchers_on_one_queue_handle_each_message_once(tenant, broker, run_dispatcher):
    source(tenant, broker)
    refused = pool_waits()
    first = run_dispatcher(prefetch=20, batch_size=20)
    second = run_dispatcher(prefetch=20, batch_size=20)
    total = 1500
    for n in range(total):
        broker.publish(f"x.y.{n}.entryCreated", {"n": n}, message_id=f"m{n}")
    wait_until(lambda: first.committed + second.committed >= total, timeout=60, what="every message acknowledged")
    assert first.committed + second.committed == total  # no message was handled twice
    assert first.committed > 0 and second.committed > 0
    assert Event.objects.count() == total and broker.depth(broker.queue) == 0
    # PostgreSQL: each dispatcher's threads (consumer, preparer, two committers) hold a connection of the process's
    # pool; none of them had to wait for one (a pool too small for them stalled a thread until another gave one
    # back, or for its 10 s timeout, then reported the database as unavailable). Opening new ones takes milliseconds.
    waits = pool_waits()
    if waits is not None:
        assert waits[0] == refused[0] and waits[1] - refused[1] < 3000, (refused, waits)


def pool_waits():
    """(borrows given up on, milliseconds spent waiting for a connection) of the process's pool; None on SQLite."""
    pool = getattr(connection, "pool", None)
    if pool is None:
        return None
    stats = pool.get_stats()
    return stats.get("requests_errors", 0), stats.get("requests_wait_ms", 0)


def test_sources_created_later_are_bound_and_removed_ones_unbound(tenant, broker, run_dispatcher, settings):
    settings.EVENTHUB = {**settings.EVENTHUB, "RECONCILE_SECONDS": 0.2}
    run_dispatcher()
    broker.publish("k.entryCreated", {"n": 0})  # no binding yet: not routed to the work queue at all
    src = wait_until(lambda: source(tenant, broker, keys=("k.#",)), what="the source stored")
    wait_until(lambda: _routed(broker, "k.entryCreated", {"n": 1}), what="the new binding")
    wait_until(lambda: Event.objects.count() >= 1)
    wait_until(lambda: src.delete(), what="the source removed")
    wait_until(lambda: not _routed(broker, "k.entryCreated", {"n": 2}), what="the binding removed")


def _routed(broker, rk, body):
    """Publish mandatory: True when some queue took it."""
    try:
        broker.channel.basic_publish(broker.exchange, rk, json.dumps(body).encode(),
                                     pika.BasicProperties(content_type="application/json", message_id=str(uuid.uuid4())), mandatory=True)
        return True
    except pika.exceptions.UnroutableError:
        return False


def test_the_embedded_dispatcher_starts_only_with_an_amqp_url(tenant, broker, settings):
    settings.AMQP_URL = None
    assert start_in_background() is None
    settings.AMQP_URL = broker.url
    source(tenant, broker)
    dispatcher = start_in_background(**{k: v for k, v in broker.dispatcher_options().items() if k != "url"})
    try:
        assert dispatcher.thread.daemon and dispatcher.ready.wait(20)
        broker.publish("a.entryCreated", {"embedded": True}, message_id="embedded")
        wait_until(lambda: Event.objects.filter(event_id="embedded").exists())
    finally:
        dispatcher.stop_and_wait()
    assert not dispatcher.thread.is_alive()


def test_entrecode_tasks_and_builds_are_typed_by_the_catalogs_rules_not_dead_lettered(tenant, broker, run_dispatcher):
    # 000: a task's AMQP type is the task id and its appId ec.tasks-api; builds carry no type, on a {platformType} key.
    source(tenant, broker)
    run_dispatcher()
    broker.publish("publishEntries", {"commandID": "c1", "_accountID": "41d7413d"}, type="publishEntries", app_id="ec.tasks-api",
                   message_id="task-1")
    broker.publish("ios", {"result": "success", "buildID": "b1", "timestamp": "t", "content": None}, type=None, message_id="build-finished")
    broker.publish("ios", {"uuid": "u1", "buildID": "b1", "eventType": "progress", "message": "50%"}, type=None, message_id="build-event")
    broker.publish("android", {"platform": "android", "config": {}}, type=None, message_id="build-start")
    wait_until(lambda: Event.objects.count() == 4, what="four typed events")
    types = dict(Event.objects.values_list("event_id", "type"))
    assert types == {"task-1": "cmd.startTask", "build-finished": "buildFinished", "build-event": "buildEvent", "build-start": "cmd.startBuild"}
    assert Event.objects.get(event_id="task-1").properties["type"] == "publishEntries"  # the task id is kept
    assert not DeadLetter.objects.exists()


def test_a_database_error_while_a_batch_is_routed_stores_it_after_all_and_acks_it_only_then(tenant, broker, run_dispatcher, monkeypatch, settings):
    """The preparer thread routes a batch while the committer stores the one before; when routing meets the database
    away, the committer prepares the batch again itself: every message stored once, none acknowledged before."""
    from django.db import OperationalError

    from subscriptions.broker import ingest

    settings.EVENTHUB = {**settings.EVENTHUB, "RECONNECT_MAX_SECONDS": 1}
    source(tenant, broker)
    real, failures = ingest.prepare_batch, []

    def failing_once(batch, cache):
        if not failures:
            failures.append(len(batch))
            raise OperationalError("the database is restarting")
        return real(batch, cache)

    monkeypatch.setattr("subscriptions.broker.dispatch.prepare_batch", failing_once)
    dispatcher = run_dispatcher()
    for n in range(5):
        broker.publish("a.entryCreated", {"n": n}, message_id=f"m{n}")
    wait_until(lambda: dispatcher.committed == 5, what="every message acknowledged")
    assert failures and Event.objects.count() == 5
    assert sorted(e.data["n"] for e in Event.objects.all()) == [0, 1, 2, 3, 4]
    assert broker.depth(broker.queue) == 0

"""The ordering rules the hub's guarantees rest on, proven by holding the step each must wait for (not by hoping a
kill lands in a window):

- ack after commit: while a batch's commit is held, none of its messages is acknowledged (RabbitMQ itself counts
  them unacknowledged), and the ack follows the commit;
- the outbox: nothing is sent to a receiver before the delivery is committed, even with a worker polling;
- the lease: a delivery a worker has leased is neither claimed nor sent by another worker while the lease holds.
"""

import asyncio
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from subscriptions.broker import ingest
from subscriptions.delivery import worker
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus, Event
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.broker.sources import create_source
from tests.conftest import IN_CI
from tests.subscriptions.broker_helpers import running_dispatcher, unacknowledged, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class Gate:
    """Holds the first thread that reaches it until the test opens it; `entered` tells the test it is held."""

    def __init__(self):
        self.entered = threading.Event()
        self.opened = threading.Event()

    def hold_once(self):
        if not self.entered.is_set():
            self.entered.set()
            assert self.opened.wait(60), "the test never opened the gate"


def in_other_thread(function, *args):
    """Run `function` as another worker would: on its own thread, hence its own database connection."""

    def run():
        try:
            return function(*args)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(60)


# --- ack after commit ---------------------------------------------------------------------------------------------


def broker_unacknowledged(broker):
    count = unacknowledged(broker.url, broker.queue)
    if count is None and IN_CI:
        pytest.fail("CI must check RabbitMQ's own count of unacknowledged messages, but rabbitmqctl cannot be run")
    return count


@pytest.mark.rabbitmq
def test_the_dispatcher_acknowledges_a_batch_only_after_its_commit(tenant, broker, monkeypatch):
    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    gate = Gate()
    committed = []  # messages committed so far, one entry per batch, appended by the commit itself
    acks = []  # (delivery tag, messages committed when the ack was sent)
    consumer_turns = []  # threads that ran a broker I/O turn while the commit was held

    real_store = ingest.store_in_transaction

    def hold_then_store(routed):
        gate.hold_once()  # before the batch's commit (on PostgreSQL one statement is the whole transaction)
        result = real_store(routed)
        transaction.on_commit(lambda: committed.append(len(routed.ids)))
        return result

    real_ack = BlockingChannel.basic_ack

    def spy_ack(channel, delivery_tag=0, multiple=False):
        acks.append((delivery_tag, sum(committed)))
        return real_ack(channel, delivery_tag=delivery_tag, multiple=multiple)

    real_turn = BlockingConnection.process_data_events

    def spy_turn(conn, *args, **kwargs):
        if gate.entered.is_set():
            consumer_turns.append(threading.current_thread())
        return real_turn(conn, *args, **kwargs)

    monkeypatch.setattr(ingest, "store_in_transaction", hold_then_store)
    monkeypatch.setattr(BlockingChannel, "basic_ack", spy_ack)
    monkeypatch.setattr(BlockingConnection, "process_data_events", spy_turn)

    with running_dispatcher(**broker.dispatcher_options(batch_size=5, batch_ms=10_000)) as dispatcher:
        try:
            for n in range(5):
                broker.publish(f"ec.model.{n}.entryCreated", {"n": n}, message_id=f"m{n}")
            assert gate.entered.wait(30), "the batch never reached its commit"
            # The consumer thread has handed the batch over and gone back to the broker a few times: an ack sent at
            # hand-over would have been sent by now.
            wait_until(lambda: sum(t is dispatcher.thread for t in consumer_turns) >= 3, what="the consumer thread's next turns")
            assert acks == [], "acknowledged before the commit"
            # RabbitMQ's own count (its statistics lag a few seconds behind): all five held for redelivery.
            wait_until(lambda: broker_unacknowledged(broker) in (5, None), what="RabbitMQ to count five unacknowledged")
            assert acks == [] and committed == []
        finally:
            gate.opened.set()
        wait_until(lambda: acks, what="the ack after the commit")
        wait_until(lambda: Event.objects.count() == 5, what="the batch's events")
        assert committed == [5] and acks == [(5, 5)]  # one multiple ack of the batch's last tag, after its commit
        wait_until(lambda: broker_unacknowledged(broker) in (0, None), what="RabbitMQ to count them acknowledged")
        assert broker.depth(broker.queue) == 0


# --- the outbox -------------------------------------------------------------------------------------------------


@pytest.fixture
def hook(tenant, receiver, settings):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "DELIVERY_POLL_SECONDS": 0.05, "RETRY_SCHEDULE": [0]}
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": receiver.url(), "events": ["product.*"], "timeout_seconds": 5})[0]


def _delivery_committed(event_id):
    try:
        return Delivery.objects.filter(event__event_id=event_id).exists()
    except OperationalError:  # SQLite: a writer still holds the tables, so nothing of it is committed
        return False
    finally:
        connection.close()


def commit_seen_by(receiver):
    """For each request the receiver gets: was its delivery committed, looked up on another database connection?"""
    seen = []

    def script(record):
        event_id = json.loads(record.body)["id"]
        with ThreadPoolExecutor(1) as pool:  # the receiver's handler runs on an event loop: the ORM runs beside it
            seen.append(pool.submit(_delivery_committed, event_id).result(30))
        return 200, {}, "ok", 0

    receiver.script = script
    return seen


def test_nothing_is_sent_before_the_delivery_is_committed_though_a_worker_polls_meanwhile(tenant, hook, receiver, monkeypatch):
    seen = commit_seen_by(receiver)
    cycles = []
    real_claim = worker.claim_due
    monkeypatch.setattr(worker, "claim_due", lambda *a, **kw: cycles.append(1) or real_claim(*a, **kw))
    running = worker.start_in_background(concurrency=4)
    try:
        wait_until(lambda: cycles, what="the worker's first claim")
        with transaction.atomic():
            record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
            before = len(cycles)
            # PostgreSQL: the worker claims on beside the open transaction and finds nothing. SQLite: the open
            # transaction holds the database's one write lock, so the worker's claim waits (its busy timeout) until
            # the commit.
            claims = 3 if connection.vendor == "postgresql" else 1
            wait_until(lambda: len(cycles) >= before + claims, what="claims while the transaction is open")
            assert receiver.received == []
        wait_until(lambda: seen, what="the request, after the commit")  # set once the receiver has looked
        assert seen == [True] and len(receiver.received) == 1
    finally:
        running.stop()
        running.thread.join(20)
    assert not running.thread.is_alive()


def test_a_test_send_reaches_the_receiver_only_after_its_delivery_is_committed(tenant, hook, receiver, api):
    seen = commit_seen_by(receiver)
    response = api.post(f"/webhook/{tenant.name}/endpoints/{hook.pk}/test", {"eventType": "product.created"}, format="json")
    assert response.status_code == 202, response.content
    assert not receiver.received  # queued: the request sends nothing
    assert worker.deliver_now(ids=[response.json()["id"]]) == 1  # what the workers woken on commit do
    assert seen == [True]


# --- the lease --------------------------------------------------------------------------------------------------


def test_a_leased_delivery_is_neither_claimed_nor_sent_by_another_worker_while_the_lease_holds(tenant, hook, receiver):
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
    jobs = worker.claim_due(10)  # worker A leases it ...
    assert [job.attempt_number for job in jobs] == [1]
    assert in_other_thread(worker.claim_due, 10) == []  # ... so worker B gets nothing to claim
    assert in_other_thread(worker.deliver_now) == 0  # nor to send
    assert receiver.received == []

    worker.record_results(asyncio.run(worker.send_jobs(jobs)))  # A sends and records
    assert in_other_thread(worker.deliver_now) == 0
    assert len(receiver.received) == 1 and Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_a_lease_that_ran_out_lets_another_worker_take_the_delivery(tenant, hook, receiver):
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
    assert len(worker.claim_due(10)) == 1  # worker A leases it, then dies without a word
    lease = Delivery.objects.get().lease_until
    assert lease is not None and lease > timezone.now()
    assert in_other_thread(worker.claim_due, 10) == []
    Delivery.objects.update(lease_until=timezone.now() - timedelta(seconds=1))  # as if the lease's time had passed
    assert [job.delivery_id for job in in_other_thread(worker.claim_due, 10)] == [Delivery.objects.get().pk]


def test_many_deliveries_claimed_by_two_workers_at_once_are_each_leased_to_one(tenant, hook):
    record_events(tenant, [IncomingEvent("product.created", {"id": i}, id=f"evt-{uuid.uuid4()}") for i in range(40)])
    barrier = threading.Barrier(2)

    def claim():
        barrier.wait(10)
        return [job.delivery_id for job in worker.claim_due(40)]

    with ThreadPoolExecutor(2) as pool:
        first, second = [f.result(60) for f in [pool.submit(in_other_thread, claim) for _ in range(2)]]
    assert not set(first) & set(second)
    assert len(first) + len(second) == 40

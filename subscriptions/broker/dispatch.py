"""Broker dispatch: consume the shared work queue, turn messages into events in batched transactions, ack after commit.

Two halves. `ingest_batch` (broker/ingest.py) is ORM only: it turns a batch into events, deliveries and dead letters
in one transaction. `Dispatcher` is the thin pika part: declare, bind, consume, batch, ack.

Why pika's BlockingConnection: the work per batch (the database commit) is synchronous and blocking. With a
SelectConnection the ioloop would stall during the commit just the same, or need add_callback_threadsafe acks
for no throughput gain. Here the consumer thread owns the connection: process_data_events(time_limit) gathers
deliveries until the batch is full (BATCH_SIZE) or its time is up (BATCH_MS) and hands the batch on, keeping on
receiving the next one (heartbeats flow too). A batch then passes two threads: the preparer converts and routes it
(CPU, no transaction), a committer stores it (the database's round trips), so one batch is routed while the ones
before it commit; when a batch's commit is done, and every batch's before it, the consumer thread sends one
basic_ack(multiple=True): batches are acknowledged in order, nothing before its commit. On PostgreSQL two committers
store two batches at once (each on its own connection; a batch's statement spends most of its time in the
database, the events' text index above all), except a batch that may create keyed deliveries (an endpoint with
`ordering`): it is stored only after every batch received before it, so a key's deliveries keep the queue's order.
SQLite has one writer: one committer there. PREFETCH holds a batch being received and every batch in flight.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait

import pika
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from pika.exceptions import AMQPChannelError, AMQPError, ChannelClosedByBroker

from eventhub.conf import hub_setting
from eventhub.json_limits import storable_text
from subscriptions.broker.ingest import BatchOutcome, Delivered, RulesCache, prepare_batch, store_batch
from subscriptions.core.messages import message_from_delivery

logger = logging.getLogger(__name__)

REASON_HEADER = "x-eventhub-reason"


# --- the pika part ----------------------------------------------------------------------------


class Backoff:
    """Exponential back-off with jitter: 0.5 s, 1 s, 2 s ... up to `cap`, each drawn from [d/2, d]."""

    def __init__(self, cap: float, base: float = 0.5):
        self.cap, self.base, self.attempt = cap, base, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self):
        self.attempt = 0


def committers() -> int:
    """Batches stored at once: two on PostgreSQL, one on SQLite (one writer at a time)."""
    return 2 if connection.vendor == "postgresql" else 1


class Stopped(Exception):
    """Asked to stop while a batch could not be committed: leave it unacknowledged (the broker requeues it)."""


class Dispatcher:
    """One consumer of the work queue. run() until stop(); reconnects with back-off; acks only after commit."""

    def __init__(self, url=None, queue=None, prefetch=None, batch_size=None, batch_ms=None, dead_exchange=None, dead_queue=None):
        self.url = url or settings.AMQP_URL
        self.queue = queue or hub_setting("WORK_QUEUE")
        self.prefetch = prefetch or hub_setting("PREFETCH")
        self.batch_size = batch_size or hub_setting("BATCH_SIZE")
        self.batch_seconds = (batch_ms if batch_ms is not None else hub_setting("BATCH_MS")) / 1000
        self.dead_exchange = dead_exchange or hub_setting("DEAD_EXCHANGE")
        self.dead_queue = dead_queue or hub_setting("DEAD_QUEUE")
        self.reconcile_seconds = hub_setting("RECONCILE_SECONDS")
        self.backoff = Backoff(hub_setting("RECONNECT_MAX_SECONDS"))
        self.stopping = threading.Event()
        self.ready = threading.Event()  # set once consuming (tests and the embedded start wait on it)
        self.cache = RulesCache()  # the preparer thread's
        self._retry_caches = threading.local()  # each committer's own, when it prepares a batch again after a failure
        self.binding_rules = RulesCache()  # the consumer thread's (each thread has its own database connection)
        self.bound: set[tuple[str, str, str]] = set()  # bindings this process made (durable, so kept across reconnects)
        self.committed = 0  # messages acknowledged after commit, for logs and the benchmark
        self.first_message_at = self.last_ack_at = None  # time.monotonic(), for the benchmark
        self._buffer: list[Delivered] = []
        self.thread: threading.Thread | None = None  # set by start_in_background

    def stop(self):
        self.stopping.set()

    def stop_and_wait(self, timeout=30):
        self.stop()
        if self.thread is not None:
            self.thread.join(timeout)

    def run(self):
        # One thread per stage, so batches are prepared, committed and acknowledged in order: while one batch
        # commits, the next is routed and the one after it received (the database, the CPU and the broker at once).
        self._preparer = ThreadPoolExecutor(1, thread_name_prefix="eventhub-dispatch-prepare")
        self._committers = [ThreadPoolExecutor(1, thread_name_prefix="eventhub-dispatch-commit") for _ in range(committers())]
        self._batches = 0  # handed to the committers so far: batch n goes to committer n % len(committers)
        try:
            while not self.stopping.is_set():
                try:
                    self._session()
                except Stopped:
                    break
                except (AMQPError, OSError) as exc:
                    delay = self.backoff.next()
                    logger.warning("broker connection lost (%r); reconnecting in %.1f s", exc, delay)
                    self.stopping.wait(delay)
                except (OperationalError, InterfaceError) as exc:  # the database is away while loading the rules
                    delay = self.backoff.next()
                    logger.warning("database unavailable (%r); retrying in %.1f s", exc, delay)
                    connection.close()
                    self.stopping.wait(delay)
                except Exception:  # a bug must not end the embedded dispatcher for good: unacked, so redelivered
                    delay = self.backoff.next()
                    logger.exception("dispatcher failed; its unacknowledged messages return to the queue; restarting in %.1f s", delay)
                    self.stopping.wait(delay)
        finally:
            for stage in (self._preparer, *self._committers):
                stage.submit(lambda: connection.close()).result()  # each thread's own database connection
                stage.shutdown()
            connection.close()
        logger.info("dispatcher stopped after %d messages", self.committed)

    # one connection, from declare to close
    def _session(self):
        self._buffer, self._in_flight = [], deque()  # (future, batch), oldest first
        self.ready.clear()
        conn = self._conn = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            self._admin = conn.channel()
            self._admin.confirm_delivery()
            self._declare_queues()
            self._reconcile(force=True)
            channel = conn.channel()
            channel.basic_qos(prefetch_count=self.prefetch)
            tag = channel.basic_consume(self.queue, self._on_message)
            self.backoff.reset()
            self.ready.set()
            logger.info("dispatcher consuming %s (prefetch %d, batch %d / %d ms)", self.queue, self.prefetch, self.batch_size, self.batch_seconds * 1000)
            self._consume(conn, channel)
            channel.basic_cancel(tag)
            self._flush(conn, channel, wait=True)  # SIGTERM: finish and acknowledge what we hold
        finally:
            self.ready.clear()
            if self._in_flight:  # connection lost mid-commit: let them end; their messages come back, deduplicated
                wait([future for future, _ in self._in_flight])
                self._in_flight.clear()
            try:
                if conn.is_open:
                    conn.close()
            except AMQPError:
                pass

    def _consume(self, conn, channel):
        next_reconcile = time.monotonic() + self.reconcile_seconds
        while not self.stopping.is_set():
            now = time.monotonic()
            deadline = self._batch_started + self.batch_seconds if self._buffer else now + 0.25
            if self._in_flight:
                deadline = min(deadline, now + 0.005)  # look for the commit's end often: ack early
            conn.process_data_events(time_limit=max(0.0, min(deadline, next_reconcile) - now))
            now = time.monotonic()
            if self._buffer and (len(self._buffer) >= self.batch_size or now >= self._batch_started + self.batch_seconds):
                self._flush(conn, channel)
            while self._in_flight and self._in_flight[0][0].done():
                self._finish_oldest(conn, channel)
            if now >= next_reconcile:
                self._reconcile()
                next_reconcile = now + self.reconcile_seconds

    def _on_message(self, channel, method, properties, body):
        if not self._buffer:
            self._batch_started = time.monotonic()
            if self.first_message_at is None:
                self.first_message_at = self._batch_started
        message = message_from_delivery(method, properties, body)
        self._buffer.append(Delivered(method.delivery_tag, message, method.redelivered, properties))

    def _flush(self, conn, channel, wait=False):
        """Hand the buffer to the preparer and a committer; at most one batch more in flight than there are
        committers (one routed while they commit); acks stay in order."""
        while len(self._in_flight) > len(self._committers):
            self._finish_oldest(conn, channel)
        if self._buffer:
            batch, self._buffer = self._buffer, []
            prepared = self._preparer.submit(self._prepare, batch)
            committer = self._committers[self._batches % len(self._committers)]
            self._batches += 1
            ahead = [future for future, _ in self._in_flight]
            self._in_flight.append((committer.submit(self._commit, batch, prepared, ahead), batch))
        while wait and self._in_flight:
            self._finish_oldest(conn, channel)

    def _finish_oldest(self, conn, channel):
        future, batch = self._in_flight[0]
        while not future.done():
            conn.process_data_events(time_limit=0.005)  # heartbeats and deliveries keep flowing meanwhile
        self._in_flight.popleft()
        outcome = future.result()  # Stopped (asked to stop while the database was away) propagates: no ack
        for item, reason in outcome.dead:
            message_id = getattr(item.raw_properties, "message_id", None)
            logger.warning(
                "dead-lettered a message from %s %r (message id %s): %s", item.message.exchange, item.message.routing_key,
                message_id, reason[:300],
                extra={"event_id": message_id, "exchange": item.message.exchange, "routing_key": item.message.routing_key, "reason": reason[:2000]},
            )
            self._publish_dead(item, reason)
        channel.basic_ack(delivery_tag=batch[-1].tag, multiple=True)
        self.committed += len(batch)
        self.last_ack_at = time.monotonic()

    def _prepare(self, batch):
        """On the preparer thread. A database error reaches _commit, which prepares the batch again itself."""
        try:
            return prepare_batch(batch, self.cache)
        except (OperationalError, InterfaceError):
            connection.close()  # this thread's: the next batch connects afresh
            raise

    def _commit(self, batch, prepared, ahead=()) -> BatchOutcome:
        """On a committer thread, with the preparer's future and the commits of the batches received before it. A
        database that is away (or rules that cannot be loaded): nothing stored, the batch is held unacknowledged (no
        one else loses it), prepared again here and retried with back-off; no hot loop, no requeue storm. What one
        message does never comes here: the batch's preparing and storing dead-letter it."""
        backoff = Backoff(hub_setting("RECONNECT_MAX_SECONDS"))
        while True:
            try:
                ready = prepare_batch(batch, self._retry_cache()) if prepared is None else prepared.result()
                if ahead and ready.ordered:  # keyed deliveries in the queue's order: after every batch before it
                    wait(ahead)
                    if any(future.exception() for future in ahead):
                        raise Stopped()  # one before it was not stored (a stop): neither is this one
                return store_batch(ready)
            except Stopped:
                raise
            except (OperationalError, InterfaceError) as exc:
                delay = backoff.next()
                logger.warning("database error on commit (%r); batch of %d kept unacknowledged, retrying in %.1f s", exc, len(batch), delay)
                connection.close()
            except Exception:
                delay = backoff.next()
                logger.exception("the batch of %d could not be handled (the rules?); kept unacknowledged, retrying in %.1f s", len(batch), delay)
            prepared = None  # what was prepared may be half stored: prepare again (a repeat is deduplicated by id)
            if self.stopping.wait(delay):
                raise Stopped()

    def _retry_cache(self) -> RulesCache:
        """The calling committer's own: a RulesCache reloads its rules and tenants in two steps, so two threads sharing
        one could pair one's rules with the other's tenants."""
        cache = getattr(self._retry_caches, "cache", None)
        if cache is None:
            cache = self._retry_caches.cache = RulesCache()
        return cache

    def _publish_dead(self, item: Delivered, reason: str):
        props = item.raw_properties or pika.BasicProperties()
        headers = dict(props.headers or {})
        headers[REASON_HEADER] = storable_text(reason[:2000])  # pika encodes UTF-8: no lone surrogate may remain
        headers["x-eventhub-exchange"] = item.message.exchange
        props.headers = headers
        props.delivery_mode = 2
        self._admin.basic_publish(self.dead_exchange, item.message.routing_key, item.message.body, props)

    def _declare_queues(self):
        admin = self._admin
        admin.exchange_declare(self.dead_exchange, exchange_type="topic", durable=True)
        admin.queue_declare(self.dead_queue, durable=True)
        admin.queue_bind(self.dead_queue, self.dead_exchange, routing_key="#")
        # Quorum: replicated and durable. Messages the broker itself gives up on (a delivery limit) go to the
        # dead-letter exchange, not into the void.
        admin.queue_declare(self.queue, durable=True, arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": self.dead_exchange})

    def _reconcile(self, force=False):
        """Bind the work queue to every enabled source's exchange and keys; unbind what is no longer wanted.

        Cheap when nothing changed: the rules are re-read only when their stamp moved, and only differences are sent.
        """
        close_old_connections()
        wanted = self.binding_rules.current().bindings()
        for exchange, exchange_type, key in sorted(wanted if force else wanted - self.bound):
            try:
                self._ensure_exchange(exchange, exchange_type)
                self._admin.queue_bind(self.queue, exchange, routing_key=key)
                self.bound.add((exchange, exchange_type, key))
            except AMQPChannelError as exc:
                logger.error("cannot bind %s to exchange %s with %r: %r (retrying at the next reconcile)", self.queue, exchange, key, exc)
                self._reopen_admin()
        for exchange, exchange_type, key in sorted(self.bound - wanted):
            try:
                self._admin.queue_unbind(self.queue, exchange, routing_key=key)
            except AMQPChannelError as exc:
                logger.info("unbinding %s from %s %r: %r", self.queue, exchange, key, exc)
                self._reopen_admin()
            self.bound.discard((exchange, exchange_type, key))

    def _ensure_exchange(self, exchange, exchange_type):
        # Declared durable so the binding (and so no message) is lost when the producer has not created it yet;
        # when it exists with other attributes (entrecode's own), the broker refuses and it is used as it is.
        if exchange == "amq.topic":
            return
        try:
            self._admin.exchange_declare(exchange, exchange_type=exchange_type, durable=True)
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 406:
                raise
            self._reopen_admin()
            self._admin.exchange_declare(exchange, passive=True)

    def _reopen_admin(self):
        if not self._admin.is_open:
            self._admin = self._conn.channel()
            self._admin.confirm_delivery()


def start_in_background(**options) -> Dispatcher | None:
    """The embedded default: one dispatcher on a daemon thread when settings.AMQP_URL is set (else None)."""
    if not settings.AMQP_URL:
        return None
    dispatcher = Dispatcher(**options)
    dispatcher.thread = threading.Thread(target=dispatcher.run, name="eventhub-dispatch", daemon=True)
    dispatcher.thread.start()
    return dispatcher

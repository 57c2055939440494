"""The broker tap: every enabled Source gets its own exclusive, auto-deleted queue bound like the source (entrecode's
`subscribe`), and each message on it becomes a "broker" item for the tenant's live viewers.

The tap sees raw traffic, including messages that match no subscription or will be dead-lettered, and takes nothing
from the work queue the dispatcher consumes. Its queues are capped (the broker drops their oldest messages when the
bridge falls behind) and every message is passed to broadcast.publish, which never waits, so a flood on the broker
costs the tap some messages and never the pipeline. Bodies are bounded and decoded as UTF-8 with replacement:
nothing on the broker is trusted.

Runs as a daemon thread of `manage.py serve` (start_in_background) or alone as `manage.py monitor_bridge` (scale-out,
needs the Redis channel layer so its items reach the web processes). Reconnects with back-off; re-reads the sources
every MONITOR_BRIDGE_REFRESH seconds and adds or removes taps as they change.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass

import pika
from django.db import close_old_connections, connection

from eventhub.conf import hub_setting
from monitor import broadcast
from monitor.broadcast import make_message
from subscriptions.catalog import type_rules
from subscriptions.core.amqp import SourceRule
from subscriptions.core.messages import message_from_delivery, message_id, shown_type

logger = logging.getLogger(__name__)

TAP_QUEUE_MAX_LENGTH = 10_000  # per tap; beyond this the broker drops the tap's oldest messages, never the work queue's
MAX_HEADERS = 50
MAX_HEADER_TEXT = 1024


@dataclass(frozen=True)
class TapSpec:
    """What one tap needs to know about its Source; a change of any field re-creates the tap."""

    source_id: str
    tenant: str
    name: str
    rule: SourceRule  # the dispatcher's rule for this source: exchange, binding keys, how the type is read

    @property
    def exchange(self) -> str:
        return self.rule.exchange

    @property
    def binding_keys(self) -> tuple[str, ...]:
        return ("",) if self.rule.exchange_type == "fanout" else self.rule.binding_keys


def enabled_sources() -> tuple[dict[str, TapSpec], dict[int, frozenset[str]]]:
    """The taps to hold, from the rules the dispatcher loads (so a source it ignores is not tapped either), and the
    event type keys each tenant knows (the type rule needs them: `cmd.sendMail` is a known suffix)."""
    from subscriptions.models import Source
    from subscriptions.broker.sources import load_rules

    rules, tenants = load_rules()
    names = dict(Source.objects.filter(pk__in=[r.id for r in rules.sources]).values_list("pk", "name"))
    specs = {
        str(rule.id): TapSpec(str(rule.id), tenants[rule.tenant_id].name, names.get(rule.id, ""), rule)
        for rule in rules.sources
    }
    return specs, rules.known_types


# --- turning a broker message into a monitor item (no trust in anything it carries) ------------------
# Type, event id and property names are the dispatcher's (subscriptions/core/amqp.py): a broker row shows what the
# ingested row for the same message will show.


def _bounded(value, depth=0):
    """JSON-safe property values, bounded for display (AMQP tables may be large and nest deeply)."""
    if isinstance(value, str):
        return value[:MAX_HEADER_TEXT]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= 3:
        return str(value)[:MAX_HEADER_TEXT]
    if isinstance(value, dict):
        return {str(k)[:200]: _bounded(v, depth + 1) for k, v in list(value.items())[:MAX_HEADERS]}
    if isinstance(value, (list, tuple)):
        return [_bounded(v, depth + 1) for v in value[:MAX_HEADERS]]
    return str(value)[:MAX_HEADER_TEXT]


def broker_item(spec: TapSpec, method, properties, body: bytes, known: frozenset[str] = frozenset()) -> dict:
    message = message_from_delivery(method, properties, body)
    found = shown_type(spec.rule, message, known, body_limit=hub_setting("MONITOR_BODY_LIMIT"), type_rules=type_rules())
    return make_message(
        "broker",
        spec.tenant,
        body=body,
        source=spec.name,
        exchange=message.exchange,
        routingKey=message.routing_key,
        type=found[:200] if found else None,
        eventId=message_id(message),
        properties=_bounded(message.properties),
        redelivered=bool(method.redelivered) or None,
    )


# --- the bridge thread ----------------------------------------------------------------------------


class Bridge(threading.Thread):
    def __init__(self, amqp_url: str, refresh: float | None = None, max_backoff: float | None = None):
        super().__init__(name="monitor-bridge", daemon=True)
        self.amqp_url = amqp_url
        self.refresh = refresh if refresh is not None else hub_setting("MONITOR_BRIDGE_REFRESH")
        self.max_backoff = max_backoff if max_backoff is not None else hub_setting("MONITOR_BRIDGE_MAX_BACKOFF")
        self.stopping = threading.Event()
        self.taps: dict[str, tuple[TapSpec, object]] = {}  # source id -> (spec, channel)
        self.failed: dict[str, str] = {}  # source id -> last error, logged once per change
        self.known: dict[int, frozenset[str]] = {}  # tenant id -> event type keys, re-read at each refresh
        self.connected = threading.Event()
        self.synced = threading.Event()  # set after each source refresh (tests wait on it)
        self.received = 0

    def stop(self, timeout=5):
        self.stopping.set()
        if self.is_alive():
            self.join(timeout)

    def run(self):
        backoff = 1.0
        while not self.stopping.is_set():
            try:
                self.consume()
                backoff = 1.0
            except Exception as exc:  # broker down, connection lost, a database hiccup
                logger.warning("live monitor bridge: %s; reconnecting in %.0f s", exc or type(exc).__name__, backoff)
            finally:
                self.connected.clear()
                self.taps.clear()
            self.stopping.wait(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.max_backoff)

    def consume(self):
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            self.connected.set()
            logger.info("live monitor bridge: connected to the broker")
            next_refresh = 0.0
            while not self.stopping.is_set():
                if time.monotonic() >= next_refresh:
                    self.sync(conn)
                    next_refresh = time.monotonic() + self.refresh
                conn.process_data_events(time_limit=0.2)
        finally:
            try:
                conn.close()
            except Exception:
                pass

    def sync(self, conn):
        """Make the taps match the enabled sources: close the removed or changed ones, open the new ones."""
        try:
            close_old_connections()
            wanted, self.known = enabled_sources()
        finally:
            connection.close()  # this thread may not touch the database again for a while
        for source_id, (spec, channel) in list(self.taps.items()):
            if wanted.get(source_id) != spec or not channel.is_open:
                self.taps.pop(source_id)
                if channel.is_open:
                    channel.close()
        for source_id, spec in wanted.items():
            if source_id not in self.taps:
                self.open_tap(conn, spec)
        self.synced.set()

    def open_tap(self, conn, spec: TapSpec):
        channel = conn.channel()
        try:
            queue = f"eventhub.monitor.{spec.tenant}.{spec.source_id[:8]}.{uuid.uuid4().hex[:8]}"
            channel.queue_declare(
                queue, durable=False, exclusive=True, auto_delete=True,
                arguments={"x-max-length": TAP_QUEUE_MAX_LENGTH, "x-overflow": "drop-head"},
            )  # fmt: skip
            for key in spec.binding_keys:
                channel.queue_bind(queue, spec.exchange, routing_key=key)
            channel.basic_consume(queue, lambda ch, method, props, body: self.on_message(spec, method, props, body), auto_ack=True)
        except pika.exceptions.AMQPChannelError as exc:  # e.g. the exchange does not exist (yet): retried at the next refresh
            error = str(exc)
            if self.failed.get(spec.source_id) != error:
                logger.warning("live monitor bridge: cannot tap source %s (%s): %s", spec.name, spec.exchange, error)
            self.failed[spec.source_id] = error
            if channel.is_open:
                channel.close()
            return
        self.failed.pop(spec.source_id, None)
        self.taps[spec.source_id] = (spec, channel)

    def on_message(self, spec, method, properties, body):
        self.received += 1
        try:
            known = self.known.get(spec.rule.tenant_id, frozenset())
            broadcast.publish(spec.tenant, broker_item(spec, method, properties, body, known))
        except Exception:
            logger.exception("live monitor bridge: a message from %s could not be shown", spec.exchange)


_background: Bridge | None = None
_background_lock = threading.Lock()


def start_in_background(amqp_url: str | None = None) -> Bridge:
    """The process's bridge thread, started once (manage.py serve calls this when AMQP_URL is set)."""
    global _background
    from django.conf import settings

    with _background_lock:
        if _background is None or not _background.is_alive():
            _background = Bridge(amqp_url or settings.AMQP_URL)
            _background.start()
        return _background

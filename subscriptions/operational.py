"""Operational events: the hub's own `eventhub.*` types (catalog_data/eventhub.json), recorded as events of the
tenant concerned when an endpoint is disabled, its circuit opens or closes, a delivery is given up, or a broker
message addressed to the tenant is dead-lettered.

They take the normal way in (pipeline/recording.py: route_events, then store_routed_events), so the tenant's
subscription, its endpoints' `events` patterns, eventFilter, payload format, customPayload, the outbox and signing
apply as to any event. The receivers run after the commit that made the cause true (subscriptions/signals.py) and
record in their own short transaction. Rules, each tested in tests/subscriptions/test_operational_events.py:

- Nothing for nobody: unless the tenant subscribed to the type and one of its enabled endpoints selects it, nothing
  is written (the cached routing index answers: no row, no transaction).
- No loop: an event about endpoint X is never delivered to X (X is the one failing), and a given-up delivery of an
  `eventhub.*` event emits no `eventhub.delivery.failed`.
- Bounded: at most one event per cause. The give-ups of one worker batch (one announcement) are recorded together,
  one transaction per tenant; a dying endpoint's pending deliveries that fail at claim, without an attempt, once it
  is disabled are covered by its one `eventhub.endpoint.disabled`, not one event each.
- Idempotent: each event's id is derived from its cause (e.g. the delivery's webhook-id and attempt count), so a
  cause announced twice is stored once.

Durability: the cause commits first (the worker's results, the disabled endpoint, the dead letter), then the
receiver records in its own transaction, in the same thread, milliseconds later. A process that dies in between loses
those operational events (a given-up delivery is final, so nothing announces it again); the cause itself stays
committed and shown by the API and the dashboard (the endpoint's state, the delivery's log, the dead letter).
Recording inside the cause's transaction would close that window at the price of routing inside the worker's and the
dispatcher's hot transactions, in files this feature does not own; a crash window of milliseconds, on failures only,
is the cheaper trade. Nothing is lost when the receiver itself fails: it logs (signals.announce) and the cause stands.
"""

from __future__ import annotations

import logging
import uuid
from typing import NamedTuple

from django.utils import timezone

from eventhub.api import iso_ms
from subscriptions import signals
from subscriptions.models import Delivery, EventOrigin
from subscriptions.pipeline.recording import IncomingEvent, RoutedEvents, route_events, store_routed_events
from subscriptions.pipeline.routing import tenant_routing
from tenants.models import Tenant

logger = logging.getLogger(__name__)


SOURCE = "eventhub"
PREFIX = "eventhub."
ENDPOINT_DISABLED = "eventhub.endpoint.disabled"
ENDPOINT_FAILING = "eventhub.endpoint.failing"
ENDPOINT_RECOVERED = "eventhub.endpoint.recovered"
DELIVERY_FAILED = "eventhub.delivery.failed"
DEADLETTER_CREATED = "eventhub.deadletter.created"
TYPES = (ENDPOINT_DISABLED, ENDPOINT_FAILING, ENDPOINT_RECOVERED, DELIVERY_FAILED, DEADLETTER_CREATED)


def is_operational(event_type: str) -> bool:
    return event_type.startswith(PREFIX)


class Item(NamedTuple):
    """One operational event to record: its id (derived from its cause), its data (or a callable making it, called
    only when someone listens) and the endpoint it is about (never told about itself)."""

    event_id: str
    data: object
    about: object = None


def emit(tenant_id, event_type: str, items: list[Item]) -> int:
    """Record operational events of one type for the tenant, in ONE transaction; the number of deliveries made
    (0: nothing was written)."""
    routing = listening(tenant_id, event_type, {item.about for item in items})
    if routing is None:
        return 0
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return 0
    incoming = [IncomingEvent(event_type, item.data() if callable(item.data) else item.data, id=item.event_id,
                              origin=EventOrigin.HUB) for item in items]
    routed = _without_endpoints(route_events(tenant, incoming, routing=routing), {item.event_id: item.about for item in items})
    if not routed.events:
        return 0  # their filters chose no other endpoint, or the ids were stored before: no row for nobody
    return sum(recorded.deliveries for recorded in store_routed_events(routed))  # its own short transaction


def listening(tenant_id, event_type: str, abouts=frozenset()):
    """The tenant's routing when it subscribed to `event_type` and an enabled endpoint selects it (one that is not
    the only endpoint the events are about), else None. The cached routing index answers (one small query: the
    routing version), before anything else is read."""
    routing = tenant_routing(Tenant(pk=tenant_id))
    candidates = routing.index.candidates(event_type)  # () unless subscribed and selected by an enabled endpoint
    return routing if any(len(abouts) > 1 or route.endpoint_id not in abouts for route in candidates) else None


def _without_endpoints(routed: RoutedEvents, abouts: dict) -> RoutedEvents:
    """The routing minus, for each event, the endpoint it is about (a failing endpoint is never told about itself),
    and minus the events left with no endpoint at all."""
    routings, events = {}, []
    for event in routed.events:
        about = abouts.get(event.event_id)
        routing = routed.routings[event.event_id]
        routing = type(routing)([d for d in routing.deliveries if d[0].endpoint_id != about],
                                [d for d in routing.undecided if d[0].endpoint_id != about])
        if routing.deliveries or routing.undecided:
            routings[event.event_id] = routing
            events.append(event)
    return RoutedEvents(routed.tenant, routed.ids, events, routings, routed.now)


def _endpoint_data(endpoint, **more) -> dict:
    return {"endpointId": str(endpoint.pk), "url": endpoint.url, **more}


def _moment(value) -> str:
    return iso_ms(value) if value is not None else uuid.uuid4().hex  # unknown: a fresh id (no deduplication)


def _last_error(endpoint_id) -> str:
    """The error of the endpoint's latest given-up or retried delivery, to say why it is disabled."""
    row = Delivery.objects.filter(endpoint_id=endpoint_id).exclude(last_error="").order_by("-created_at", "-id").values_list(
        "last_error", flat=True).first()
    return row or ""


# --- receivers (subscriptions/signals.py; connected in apps.py) ----------------------------------


def on_endpoint_disabled(sender, endpoint, reason, **kwargs):
    now = timezone.now()

    def data():
        return _endpoint_data(endpoint, reason=reason, lastError=_last_error(endpoint.pk), disabledAt=iso_ms(now))

    emit(endpoint.tenant_id, ENDPOINT_DISABLED, [Item(f"{ENDPOINT_DISABLED}:{endpoint.pk}:{endpoint.version}", data, endpoint.pk)])


def on_endpoint_failing(sender, endpoint, error="", **kwargs):
    since = getattr(endpoint, "circuit_since", None)
    data = _endpoint_data(endpoint, lastError=error or "", since=iso_ms(since or timezone.now()))
    emit(endpoint.tenant_id, ENDPOINT_FAILING, [Item(f"{ENDPOINT_FAILING}:{endpoint.pk}:{_moment(since)}", data, endpoint.pk)])


def on_endpoint_recovered(sender, endpoint, **kwargs):
    since = getattr(endpoint, "circuit_since", None)
    data = _endpoint_data(endpoint, since=iso_ms(since or timezone.now()))
    emit(endpoint.tenant_id, ENDPOINT_RECOVERED, [Item(f"{ENDPOINT_RECOVERED}:{endpoint.pk}:{_moment(since)}", data, endpoint.pk)])


def on_deliveries_attempted(sender, attempts, **kwargs):
    # The success path's whole cost: this loop's comparisons (measured in the tests).
    given_up: dict[int, list[int]] = {}
    for attempt in attempts:
        if attempt.outcome == "failed" and not is_operational(attempt.event_type):
            given_up.setdefault(attempt.tenant_id, []).append(attempt.delivery_id)
    for tenant_id, ids in given_up.items():  # one transaction per tenant, whatever the number of give-ups
        try:
            if listening(tenant_id, DELIVERY_FAILED) is not None:
                rows = Delivery.objects.filter(pk__in=ids).order_by("id").values_list(*FAILED_FIELDS)
                emit(tenant_id, DELIVERY_FAILED, [_failed_item(row) for row in rows])
        except Exception:  # one tenant's configuration must not keep the others' events from being recorded
            logger.exception("tenant %s: the eventhub.delivery.failed events of %d deliveries could not be recorded", tenant_id, len(ids))


FAILED_FIELDS = ("tenant_id", "id", "webhook_id", "event__event_id", "event_type", "endpoint_id", "url", "attempt_count",
                 "last_status_code", "last_error", "finished_at")


def _failed_item(row: tuple) -> Item:
    _, pk, webhook_id, event_id, event_type, endpoint_id, url, attempts, status_code, error, finished_at = row
    data = {
        "deliveryId": pk, "webhookId": webhook_id, "eventId": event_id, "eventType": event_type,
        "endpointId": str(endpoint_id) if endpoint_id else None, "url": url, "attempts": attempts,
        "lastStatusCode": status_code, "lastError": error, "failedAt": iso_ms(finished_at or timezone.now()),
    }
    return Item(f"{DELIVERY_FAILED}:{webhook_id}:{attempts}", data, endpoint_id)


def on_message_dead_lettered(sender, dead_letter, **kwargs):
    if dead_letter.tenant_id is None:
        return  # the message named no tenant: nobody's to hear
    data = {
        "deadLetterId": dead_letter.pk, "sourceId": str(dead_letter.source_id) if dead_letter.source_id else None,
        "exchange": dead_letter.exchange, "routingKey": dead_letter.routing_key, "reason": dead_letter.reason,
        "bodySize": dead_letter.body_size, "receivedAt": iso_ms(dead_letter.received_at),
    }
    emit(dead_letter.tenant_id, DEADLETTER_CREATED, [Item(f"{DEADLETTER_CREATED}:{dead_letter.pk}", data)])


RECEIVERS = (
    (signals.endpoint_disabled, on_endpoint_disabled),
    (signals.endpoint_failing, on_endpoint_failing),
    (signals.endpoint_recovered, on_endpoint_recovered),
    (signals.deliveries_attempted, on_deliveries_attempted),
    (signals.message_dead_lettered, on_message_dead_lettered),
)


def connect():
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"operational.{receiver.__name__}")

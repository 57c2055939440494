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
- Bounded: at most one event per cause. A dying endpoint's pending deliveries fail at claim without an attempt once
  it is disabled: those are covered by its one `eventhub.endpoint.disabled`, not one event each.
- Idempotent: each event's id is derived from its cause (e.g. the delivery's webhook-id and attempt count), so a
  cause announced twice is stored once.

Durability: if the process dies between the commit of the cause and the receiver's transaction (the same thread, right
after), that one operational event is lost; the cause itself is committed and shown by the API and the dashboard
(the endpoint's state, the delivery's log, the dead letter). Recording inside the cause's transaction would close the
window at the price of a routing decision inside the worker's and the dispatcher's transactions on every failure
batch; the window is a few microseconds of a process crash, so we keep the hot transactions as they are.
"""

from __future__ import annotations

import logging
import uuid

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


def emit(tenant_id, event_type: str, event_id: str, data, about_endpoint=None) -> int:
    """Record one operational event for the tenant; the number of deliveries made (0: nothing was written).
    `data`: the event's data, or a callable making it (called only when someone listens). `about_endpoint`: the id
    of the endpoint the event is about, which never gets it."""
    routing = listening(tenant_id, event_type, about_endpoint)
    if routing is None:
        return 0
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return 0
    incoming = IncomingEvent(event_type, data() if callable(data) else data, id=event_id, origin=EventOrigin.HUB)
    routed = _without_endpoint(route_events(tenant, [incoming], routing=routing), about_endpoint)
    if not any(r.deliveries or r.undecided for r in routed.routings.values()):
        return 0  # its filters chose no other endpoint, or the id was stored before: no row for nobody
    [recorded] = store_routed_events(routed)  # its own short transaction
    return recorded.deliveries


def listening(tenant_id, event_type: str, about_endpoint=None):
    """The tenant's routing when it subscribed to `event_type` and an enabled endpoint other than `about_endpoint`
    selects it, else None. The cached routing index answers (one small query: the routing version), before
    anything else is read."""
    routing = tenant_routing(Tenant(pk=tenant_id))
    candidates = routing.index.candidates(event_type)  # () unless subscribed and selected by an enabled endpoint
    return routing if any(route.endpoint_id != about_endpoint for route in candidates) else None


def _without_endpoint(routed: RoutedEvents, endpoint_id) -> RoutedEvents:
    """The routing minus the endpoint the event is about: a failing endpoint is never told about itself."""
    if endpoint_id is None:
        return routed
    routings = {
        event_id: type(routing)([d for d in routing.deliveries if d[0].endpoint_id != endpoint_id],
                                [d for d in routing.undecided if d[0].endpoint_id != endpoint_id])
        for event_id, routing in routed.routings.items()
    }
    return RoutedEvents(routed.tenant, routed.ids, routed.events, routings, routed.now)


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

    emit(endpoint.tenant_id, ENDPOINT_DISABLED, f"{ENDPOINT_DISABLED}:{endpoint.pk}:{endpoint.version}", data, endpoint.pk)


def on_endpoint_failing(sender, endpoint, error="", **kwargs):
    since = getattr(endpoint, "circuit_since", None)
    data = _endpoint_data(endpoint, lastError=error or "", since=iso_ms(since or timezone.now()))
    emit(endpoint.tenant_id, ENDPOINT_FAILING, f"{ENDPOINT_FAILING}:{endpoint.pk}:{_moment(since)}", data, endpoint.pk)


def on_endpoint_recovered(sender, endpoint, **kwargs):
    since = getattr(endpoint, "circuit_since", None)
    data = _endpoint_data(endpoint, since=iso_ms(since or timezone.now()))
    emit(endpoint.tenant_id, ENDPOINT_RECOVERED, f"{ENDPOINT_RECOVERED}:{endpoint.pk}:{_moment(since)}", data, endpoint.pk)


def on_delivery_attempted(sender, tenant_id, delivery, attempt, outcome, **kwargs):
    # The success path's whole cost: this comparison (measured in the tests).
    if outcome != "failed" or is_operational(delivery.event_type):
        return

    def data():
        event_id = Delivery.objects.filter(pk=delivery.pk).values_list("event__event_id", flat=True).first()
        return {
            "deliveryId": delivery.pk, "webhookId": delivery.webhook_id, "eventId": event_id, "eventType": delivery.event_type,
            "endpointId": str(delivery.endpoint_id) if delivery.endpoint_id else None, "url": delivery.url,
            "attempts": delivery.attempt_count, "lastStatusCode": delivery.last_status_code, "lastError": delivery.last_error,
            "failedAt": iso_ms(delivery.finished_at or timezone.now()),
        }

    event_key = f"{DELIVERY_FAILED}:{delivery.webhook_id}:{delivery.attempt_count}"
    emit(tenant_id, DELIVERY_FAILED, event_key, data, delivery.endpoint_id)


def on_message_dead_lettered(sender, dead_letter, **kwargs):
    if dead_letter.tenant_id is None:
        return  # the message named no tenant: nobody's to hear
    data = {
        "deadLetterId": dead_letter.pk, "sourceId": str(dead_letter.source_id) if dead_letter.source_id else None,
        "exchange": dead_letter.exchange, "routingKey": dead_letter.routing_key, "reason": dead_letter.reason,
        "bodySize": dead_letter.body_size, "receivedAt": iso_ms(dead_letter.received_at),
    }
    emit(dead_letter.tenant_id, DEADLETTER_CREATED, f"{DEADLETTER_CREATED}:{dead_letter.pk}", data)


RECEIVERS = (
    (signals.endpoint_disabled, on_endpoint_disabled),
    (signals.endpoint_failing, on_endpoint_failing),
    (signals.endpoint_recovered, on_endpoint_recovered),
    (signals.delivery_attempted, on_delivery_attempted),
    (signals.message_dead_lettered, on_message_dead_lettered),
)


def connect():
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"operational.{receiver.__name__}")

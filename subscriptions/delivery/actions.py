"""What people ask of deliveries: preview what an endpoint would get, send it a test event, retry one, replay a window,
recover the failed ones of a window.

Used by the REST API and the dashboard alike. The worker does the sending: these only create or re-arm Delivery rows.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from eventhub.conf import hub_setting
from subscriptions.core.changes import change_pair
from subscriptions.core.matching import RoutingIndex
from subscriptions.core.ordering import compile_ordering
from subscriptions.core.payloads import CONTENT_TYPES, cloudevents_source
from subscriptions.delivery.sender import USER_AGENT, build_request_headers
from subscriptions.delivery.worker import wake_workers
from subscriptions.models import Delivery, DeliveryStatus, Event, EventOrigin, EventSubscription
from subscriptions.pipeline.routing import compile_route, subscribed_types
from subscriptions.selectors import find_event_type

SAMPLE_VALUES = {
    "String": "string", "LocalizedString": {"en": "text"}, "Integer": 1, "Number": 1.5, "Boolean": True,
    "Object": {}, "Map": {}, "Array": [],
}
PREVIEW_MSG_ID = "msg_preview"
# Every preview is signed with this published placeholder ("preview-only-not-a-real-secret"), never with the
# endpoint's secrets: a preview takes a body of the caller's choosing, and whoever may preview (read-only tokens,
# editors) may not see the secret, so a real signature would let them forge deliveries. Sending stays with those who
# may manage the endpoint, and the worker signs with the real secrets at send time.
PREVIEW_SECRET = "whsec_cHJldmlldy1vbmx5LW5vdC1hLXJlYWwtc2VjcmV0"
PREVIEW_SIGNED_WITH = "placeholder"
PREVIEW_SIGNATURE_NOTE = (
    f"webhook-signature is computed with the placeholder secret {PREVIEW_SECRET}, not the endpoint's: "
    "a preview never carries a signature a receiver would accept. Deliveries are signed with the endpoint's secret."
)
# What a caller who may not manage an endpoint sees in place of a header value (often a receiver's credentials).
MASKED = None
_HUB_SET = {"webhook-id": None, "webhook-timestamp": None, "webhook-signature": None, "emporix-event-signature": None,
            "content-type": frozenset(CONTENT_TYPES.values()), "user-agent": frozenset({USER_AGENT}),
            "accept-encoding": frozenset({"identity"})}


class UnknownEventType(LookupError):
    pass


def sample_data(event_type):
    """The catalog example, or a sample built from the eventSchema when the source documents give none."""
    if isinstance(event_type.example, dict):
        return event_type.example
    return {name: SAMPLE_VALUES.get(kind) for name, kind in event_type.event_schema.items()}


@dataclass
class Preview:
    matches: bool
    reasons: list[str] = field(default_factory=list)  # why it would not be delivered, one sentence each
    envelope: dict | None = None
    body: str | None = None
    headers: dict | None = None  # signed with PREVIEW_SECRET, never the endpoint's
    signed_with: str = PREVIEW_SIGNED_WITH
    content_type: str = "application/json"


def preview_delivery(endpoint, event_type_key, data=None, now=None, origin=EventOrigin.HTTP) -> Preview:
    """Would the endpoint get this event (as if it came in by `origin`), and with which exact body and headers (the
    signature made with PREVIEW_SECRET, not the endpoint's)? Raises UnknownEventType."""
    tenant = endpoint.tenant
    event_type = find_event_type(tenant, event_type_key)
    if event_type is None:
        raise UnknownEventType(f"Event type '{event_type_key}' does not exist.")
    now = now or timezone.now()
    event = Event(event_id=f"preview-{uuid.uuid4()}", type=event_type.key, timestamp=now, data=sample_data(event_type) if data is None else data)
    envelope = event.envelope(tenant.name, change_pair(event_type.changes))

    body, reasons = routing_verdict(endpoint, envelope, cloudevents_source(tenant.name, origin))
    content_type = CONTENT_TYPES.get(endpoint.payload_format, "application/json")
    headers = build_request_headers(endpoint.headers, PREVIEW_MSG_ID, int(time.time()), body.encode(), [PREVIEW_SECRET], content_type)
    return Preview(matches=not reasons, reasons=reasons, envelope=envelope, body=body, headers=headers, content_type=content_type)


def routing_verdict(endpoint, envelope, source: str | None = None) -> tuple[str, list[str]]:
    """(body, reasons) by the pipeline's own path: the endpoint compiled as the routing index compiles it, the
    tenant's subscription to the type as the index reads it, RoutingIndex.route() with the matching budget. Only
    enabled endpoints are in the pipeline's index; a disabled one is previewed as if enabled and told it is not."""
    event_type = envelope["type"]
    try:
        route = compile_route(endpoint)
    except ValueError as exc:
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        return body, [f"The endpoint's eventFilter or customPayload does not compile ({exc}); it receives nothing."]
    excluded = EventSubscription.objects.filter(tenant_id=endpoint.tenant_id, event_type__key=event_type).values_list("excluded_fields", flat=True).first()
    index = RoutingIndex([route], subscribed_types(endpoint.tenant, [event_type]))
    verdict = index.explain(route, envelope, hub_setting("MATCHING_BUDGET_MS") / 1000, tuple(excluded or ()), source)
    if endpoint.enabled:
        return verdict.body, verdict.reasons
    disabled = "The endpoint is disabled" + (f": {endpoint.disabled_reason}" if endpoint.disabled_reason else ".")
    return verdict.body, [disabled, *verdict.reasons]


def masked_headers(headers: dict) -> dict:
    """An endpoint's own headers with every value MASKED: the names, for those who may not manage the endpoint."""
    return {name: MASKED for name in headers or {}}


def masked_request_headers(headers: dict) -> dict:
    """The headers of a delivery request (an attempt's, a preview's) with the values the hub sets itself kept (the
    webhook-* headers, its content type and user agent) and every other one, the endpoint's own, MASKED. Judged by
    name and value, not by the endpoint's current headers: those may have changed, or the endpoint be gone."""
    def set_by_hub(name, value):
        lower = name.lower()
        return lower in _HUB_SET and (_HUB_SET[lower] is None or value in _HUB_SET[lower])

    return {name: value if set_by_hub(name, value) else MASKED for name, value in (headers or {}).items()}


@transaction.atomic
def send_test_event(endpoint, event_type_key, data=None) -> Delivery:
    """A test event to this endpoint alone, whatever its subscriptions and filter; recorded like any delivery and
    queued: the workers are woken on commit (the API and the dashboard both queue; nothing is sent in a request).
    Never ordered (no order key): a test is not held back behind a failing delivery of the endpoint's keys."""
    preview = preview_delivery(endpoint, event_type_key, data, origin=EventOrigin.TEST)
    now = timezone.now()
    event = Event.objects.create(
        tenant=endpoint.tenant,
        event_id=preview.envelope["id"].replace("preview-", "test-", 1),
        type=preview.envelope["type"],
        timestamp=now,
        data=preview.envelope["data"],
        origin=EventOrigin.TEST,
        received_at=now,
    )
    event_envelope = event.envelope(endpoint.tenant.name)
    body = json.loads(preview.body)
    if isinstance(body, dict) and body.get("id") == preview.envelope["id"]:
        body["id"] = event_envelope["id"]
    delivery = Delivery.objects.create(
        tenant=endpoint.tenant, event=event, endpoint=endpoint, url=endpoint.url, event_type=event.type,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")), content_type=preview.content_type,
        next_attempt_at=now, created_at=now,
    )
    transaction.on_commit(wake_workers)
    return delivery


class NotRetryable(Exception):
    """A delivery that cannot be retried now; the message says why."""


def _re_arm(deliveries) -> int:
    """Make these deliveries due now, keeping their webhook-ids (receivers deduplicate on them), except those a worker
    is sending at this moment (re-arming one then could send it twice at once). Returns how many."""
    now = timezone.now()
    return deliveries.exclude(status=DeliveryStatus.PENDING, lease_until__gt=now).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, lease_until=None, finished_at=None,
    )


def retry_delivery(delivery) -> None:
    """Make a finished (or waiting) delivery due now, keeping its webhook-id, and wake the workers on commit. Raises
    NotRetryable when its endpoint is gone or a worker is sending it at this moment (re-arming it then could send it
    twice at once)."""
    if delivery.endpoint_id is None:
        raise NotRetryable("The endpoint of this delivery was deleted; it cannot be retried.")
    if not _re_arm(Delivery.objects.filter(pk=delivery.pk)):
        raise NotRetryable("A worker is sending this delivery right now; see its attempt in a moment.")
    transaction.on_commit(wake_workers)
    delivery.refresh_from_db()


RECOVER_MAX_SPAN = timedelta(days=31)  # the default retention (30 days) and a day to spare


class BadWindow(ValueError):
    """A recovery window that is refused; `field` is since or until."""

    def __init__(self, field, message):
        self.field = field
        super().__init__(message)


def check_recovery_window(since, until) -> None:
    """Both bounds, time-zone aware, since before until, at most RECOVER_MAX_SPAN apart; else BadWindow."""
    for name, value in (("since", since), ("until", until)):
        if value is None or value.tzinfo is None:
            raise BadWindow(name, "Required: an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z.")
    if since >= until:
        raise BadWindow("until", "Must be after since.")
    if until - since > RECOVER_MAX_SPAN:
        raise BadWindow("until", f"The window may span at most {RECOVER_MAX_SPAN.days} days.")


def recover_endpoint(endpoint, since, until) -> int:
    """Send again, now, every delivery to the endpoint created in [since, until) that failed (gave up): each keeps
    its webhook-id and gains new attempts. One UPDATE, however many. Raises BadWindow, or NotRetryable when the
    endpoint is disabled (each delivery would fail again at once, unsent). Returns how many are due again; the
    workers are woken on commit."""
    check_recovery_window(since, until)
    if not endpoint.enabled:
        raise NotRetryable("The endpoint is disabled: enable it first, or every recovered delivery fails again at once, unsent.")
    failed = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.FAILED, created_at__gte=since, created_at__lt=until)
    count = _re_arm(failed)
    if count:
        transaction.on_commit(wake_workers)
    return count


@transaction.atomic
def replay_endpoint(endpoint, since, until=None) -> int:
    """New deliveries, due now, of every delivery the endpoint was given since `since` (a replay is a new message);
    the workers are woken on commit."""
    now = timezone.now()
    window = Q(endpoint=endpoint, created_at__gte=since) & Q(created_at__lte=until or now)
    originals = Delivery.objects.filter(window).exclude(event__origin=EventOrigin.TEST).order_by("created_at", "id")
    fields = ["tenant_id", "event_id", "event_type", "body", "content_type"]
    ordering = replay_ordering(endpoint)
    if ordering is not None:  # the key by the endpoint's ordering as it is now, read from the event
        originals, fields = originals.select_related("event"), fields + ["event__event_id", "event__type", "event__timestamp", "event__data"]
    copies = []
    for d in originals.only(*fields):
        key = ordering.key_of(d.event.envelope(endpoint.tenant.name)) if ordering is not None else None
        copies.append(Delivery(
            tenant_id=d.tenant_id, event_id=d.event_id, endpoint=endpoint, url=endpoint.url, event_type=d.event_type,
            body=d.body, content_type=d.content_type, next_attempt_at=now, created_at=now,
            order_key=key, order_at=d.event.timestamp if key is not None else None,
        ))
    Delivery.objects.bulk_create(copies, batch_size=500)
    transaction.on_commit(wake_workers)
    return len(copies)


def replay_ordering(endpoint):
    """The endpoint's ordering as recording compiles it (a replayed delivery keeps its key's place: the event's
    timestamp), or None."""
    try:
        return compile_ordering(endpoint.ordering)
    except ValueError:  # validated when saved; a value that no longer compiles orders nothing
        return None

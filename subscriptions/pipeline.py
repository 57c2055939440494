"""Recording events: one transaction stores the events and one Delivery per matching endpoint (the outbox).

Both ways in (HTTP ingest and broker dispatch) call record_events(); nothing leaves the process before the commit:
`events_recorded` is sent on commit, and the delivery worker and the live monitor listen to it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone

from subscriptions.bulk import bulk_insert
from subscriptions.conditions import compile_filter
from subscriptions.matching import Route, RoutingIndex
from subscriptions.models import Delivery, Endpoint, Event, EventOrigin, EventSubscription, SubscriptionState
from subscriptions.payloads import compile_custom_payload
from subscriptions.signals import announce, events_recorded

logger = logging.getLogger(__name__)

__all__ = ["IncomingEvent", "Recorded", "events_recorded", "record_events", "routing_index"]


@dataclass(frozen=True)
class IncomingEvent:
    """An event as a way in hands it over, already validated (known type, data an object)."""

    type: str
    data: dict
    id: str | None = None
    timestamp: datetime | None = None
    origin: str = EventOrigin.HTTP
    source_id: object = None
    routing_key: str = ""
    properties: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    event_id: str
    created: bool  # False: an event with this id was stored before (idempotent repeat)
    deliveries: int


def record_events(tenant, incoming: list[IncomingEvent], now=None) -> list[Recorded]:
    """Store new events and their deliveries atomically; an id seen before is stored once. One result per item."""
    now = now or timezone.now()
    ids = [item.id or str(uuid.uuid4()) for item in incoming]
    with transaction.atomic():
        stored = set(Event.objects.filter(tenant=tenant, event_id__in=set(ids)).values_list("event_id", flat=True))
        pending: dict[str, Event] = {}
        for event_id, item in zip(ids, incoming):
            if event_id in stored or event_id in pending:
                continue  # a repeat: the first one wins
            pending[event_id] = Event(
                tenant=tenant,
                event_id=event_id,
                type=item.type,
                timestamp=item.timestamp or now,
                data=item.data,
                origin=item.origin,
                source_id=item.source_id,
                routing_key=item.routing_key,
                properties=item.properties,
                received_at=now,
            )
        created = _insert_events(list(pending.values()))
        index = routing_index(tenant)
        deliveries: list[Delivery] = []
        per_event: dict[str, int] = {}
        for event in created:
            matched = index.deliveries_for(event.envelope(tenant.name))
            per_event[event.event_id] = len(matched)
            deliveries += [
                Delivery(  # ids, not instances: the related descriptors cost more than the insert on a big batch
                    tenant_id=tenant.pk,
                    event_id=event.pk,
                    endpoint_id=route.endpoint_id,
                    url=route.url,
                    event_type=event.type,
                    body=body,
                    next_attempt_at=now,
                    created_at=now,
                )
                for route, body in matched
            ]
        bulk_insert(Delivery, deliveries)
        if created:
            transaction.on_commit(lambda: announce(events_recorded, tenant=tenant, events=created, deliveries=len(deliveries)))
    created_ids = {e.event_id for e in created}
    results, seen = [], set()
    for event_id in ids:
        fresh = event_id in created_ids and event_id not in seen
        seen.add(event_id)
        results.append(Recorded(event_id, fresh, per_event.get(event_id, 0) if fresh else 0))
    return results


def _insert_events(events: list[Event]) -> list[Event]:
    if not events:
        return []
    try:
        with transaction.atomic():
            return bulk_insert(Event, events)
    except IntegrityError:
        # Another writer stored one of these ids between our read and our insert: keep the rest, one by one.
        created = []
        for event in events:
            try:
                with transaction.atomic():
                    event.save(force_insert=True)
                created.append(event)
            except IntegrityError:
                pass
        return created


# --- the routing index, rebuilt only when the tenant's endpoints or subscriptions change --------------

_indexes: dict[int, tuple[tuple, RoutingIndex]] = {}
_indexes_lock = threading.Lock()


def routing_stamp(tenant) -> tuple:
    """Changes whenever an endpoint or a subscription of the tenant is created, changed or removed."""
    endpoints = Endpoint.objects.filter(tenant=tenant).aggregate(n=Count("id"), m=Max("modified_at"))
    subscriptions = EventSubscription.objects.filter(tenant=tenant).aggregate(n=Count("id"), m=Max("modified_at"))
    return (endpoints["n"], endpoints["m"], subscriptions["n"], subscriptions["m"])


def routing_index(tenant) -> RoutingIndex:
    """The tenant's RoutingIndex, compiled once per configuration (two aggregate queries to check it is current)."""
    stamp = routing_stamp(tenant)
    cached = _indexes.get(tenant.pk)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    index = build_routing_index(tenant)
    with _indexes_lock:
        _indexes[tenant.pk] = (stamp, index)
    return index


def build_routing_index(tenant) -> RoutingIndex:
    subscriptions = {
        key: tuple(excluded)
        for key, excluded in EventSubscription.objects.filter(tenant=tenant, state=SubscriptionState.SUBSCRIBED).values_list(
            "event_type__key", "excluded_fields"
        )
    }
    routes = []
    for endpoint in Endpoint.objects.filter(tenant=tenant, enabled=True).only("id", "url", "events", "event_filter", "custom_payload"):
        try:
            routes.append(
                Route(
                    endpoint_id=endpoint.id,
                    url=endpoint.url,
                    patterns=tuple(endpoint.events),
                    filter=compile_filter(endpoint.event_filter, stored=True),
                    payload=compile_custom_payload(endpoint.custom_payload) if endpoint.custom_payload else None,
                )
            )
        except ValueError:
            # Validated at save time; a row that no longer compiles (e.g. stricter rules) must not stop the others.
            logger.error("endpoint %s has a filter or payload that does not compile; it receives nothing", endpoint.id)
    return RoutingIndex(routes, subscriptions)

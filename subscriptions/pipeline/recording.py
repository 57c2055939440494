"""Recording events: one transaction stores the events and one Delivery per matching endpoint (the outbox).

Both ways in (HTTP ingest and broker dispatch) call record_events(), or its two halves: route_events() (matching
and shaping, before any transaction) and store_routed_events() (the transaction). Nothing leaves the process before
the commit: `events_recorded` is sent on commit, and the delivery worker and the live monitor listen to it.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from eventhub.conf import hub_setting
from subscriptions.bulk import insert_new, insert_rows
from subscriptions.core.matching import Route, Routing
from subscriptions.core.payloads import CONTENT_TYPES, cloudevents_source
from subscriptions.core.signing import new_webhook_id
from subscriptions.emporix.limits import current_limit, hold_over_limit
from subscriptions.models import Delivery, DeliveryStatus, Endpoint, Event, EventOrigin
from subscriptions.pipeline import postgres
from subscriptions.pipeline.routing import TenantRouting, tenant_routing
from subscriptions.selectors import change_pairs
from subscriptions.signals import announce, events_recorded

logger = logging.getLogger(__name__)

__all__ = ["IncomingEvent", "Recorded", "RoutedEvents", "events_recorded", "record_events", "route_events",
           "store_in_transaction", "store_routed_events"]

UNDECIDED_ERROR = ("Not sent: the endpoint's eventFilter could not be decided within the {ms} ms one event may spend on "
                   "matching (a costly $regex or $contains, or too many of them). Retrying sends it anyway.")


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


@dataclass(frozen=True)
class RoutedEvents:
    """A batch made ready by route_events(): the events not stored before, each with where it goes."""

    tenant: object
    ids: list[str]  # one per incoming item, for the results
    events: list[Event]  # unsaved, first of each id only
    routings: dict[str, Routing]  # by event id
    now: datetime


def record_events(tenant, incoming: list[IncomingEvent], now=None) -> list[Recorded]:
    """Store new events and their deliveries atomically; an id seen before is stored once. One result per item."""
    return store_routed_events(route_events(tenant, incoming, now=now))


def route_events(tenant, incoming: list[IncomingEvent], now=None, routing: TenantRouting | None = None) -> RoutedEvents:
    """Decide where each new event goes (filters and bodies), writing nothing. Call it OUTSIDE a transaction:
    matching may take MATCHING_BUDGET_MS per event, and on SQLite a write transaction locks the whole database,
    so matching inside one would stall every other tenant's ingest. The routing is by the configuration as it is
    when the event arrives; store_routed_events() then drops endpoints deleted in the meantime. `routing`: the
    tenant's, when the caller has just read it."""
    now = now or timezone.now()
    ids = [item.id or str(uuid.uuid4()) for item in incoming]
    # An id stored before is routed all the same and then not inserted (the insert's ON CONFLICT): a repeat is rare,
    # and looking the ids up first cost every batch a round trip.
    pending: dict[str, Event] = {}
    for event_id, item in zip(ids, incoming):
        if event_id in pending:
            continue  # a repeat within the batch: the first one wins
        pending[event_id] = Event.unsaved(tenant, event_id, item.type, item.timestamp or now, item.data, item.origin,
                                          item.source_id, item.routing_key, item.properties, now)
    routings = {}
    if pending:
        index = (routing or tenant_routing(tenant)).index
        budget = hub_setting("MATCHING_BUDGET_MS") / 1000
        pairs = change_pairs(tenant, {event.type for event in pending.values()})
        ways: dict[tuple, str] = {}  # CloudEvents sources, one per way in of the batch
        for event_id, event in pending.items():
            envelope = event.envelope(tenant.name, pairs.get(event.type))
            if "changed" in envelope:
                event.changed = envelope["changed"]  # computed once; the live monitor shows it (not a column)
            way = (event.origin, event.source_id)
            source = ways.get(way) or ways.setdefault(way, way_in(event))
            routings[event_id] = index.route(envelope, budget, source)
        undecided = sum(bool(r.undecided) for r in routings.values())
        if undecided:
            logger.warning("tenant %s: for %d of %d events some endpoints' eventFilters were not decided within the "
                           "matching budget (%s ms per event); those deliveries are failed, not sent", tenant.pk,
                           undecided, len(pending), hub_setting("MATCHING_BUDGET_MS"))
    return RoutedEvents(tenant, ids, list(pending.values()), routings, now)


def way_in(event: Event) -> str:
    """The CloudEvents source of an event: the hub, its tenant and how it came in."""
    return cloudevents_source(event.tenant.name, event.origin, event.source_id)


def store_routed_events(routed: RoutedEvents) -> list[Recorded]:
    """Insert the routed events that are still new and their deliveries, in one transaction."""
    with transaction.atomic():
        return store_in_transaction(routed)


def store_in_transaction(routed: RoutedEvents) -> list[Recorded]:
    """store_routed_events() inside the caller's transaction (group commit stores many requests in one). Called
    outside one, a batch stored in ONE statement (stored_in_one_statement) runs bare, a transaction of its own, and
    any other opens a transaction. The way is chosen once, here: a webhooks limit set between a caller's check and
    this call must not leave events committed without their deliveries."""
    tenant = routed.tenant
    by_statement = _by_statement(tenant)
    store = _store_in_one_statement if by_statement else _store_step_by_step
    alone = by_statement and _fits_one_statement(routed)
    with nullcontext() if alone else transaction.atomic(savepoint=False):  # in the caller's: no savepoint
        created, per_event, inserted = store(routed)
    if created:
        transaction.on_commit(lambda: announce(events_recorded, tenant=tenant, events=created, deliveries=inserted))
    created_ids = {e.event_id for e in created}
    results, seen = [], set()
    for event_id in routed.ids:
        fresh = event_id in created_ids and event_id not in seen
        seen.add(event_id)
        results.append(Recorded(event_id, fresh, per_event.get(event_id, 0) if fresh else 0))
    return results


def stored_in_one_statement(routed: RoutedEvents) -> bool:
    """Whether store_in_transaction stores `routed` in ONE statement (PostgreSQL, no webhooks limit, at most one
    statement's worth of events): then, outside a transaction, that statement is a transaction of its own."""
    return _fits_one_statement(routed) and _by_statement(routed.tenant)


def _fits_one_statement(routed: RoutedEvents) -> bool:
    """pipeline/postgres.py stores at most postgres.BATCH events per statement."""
    return len(routed.events) <= postgres.BATCH


def _by_statement(tenant) -> bool:
    """PostgreSQL, and the tenant has no monthly webhooks limit (that needs the rows first): pipeline/postgres.py's
    statement stores the batch (one per postgres.BATCH events)."""
    return connection.vendor == "postgresql" and current_limit(tenant.pk) is None


def _store_in_one_statement(routed: RoutedEvents) -> tuple[list[Event], dict[str, int], int]:
    """PostgreSQL, no webhooks limit: events, live endpoints and deliveries in one round trip (pipeline/postgres.py).
    The rows are built for every routed event; those of an event stored before are dropped by the statement."""
    rows = []
    for event in routed.events:
        rows += _delivery_rows(routed.tenant, event, event.event_id, routed.routings[event.event_id], None, routed.now)
    return postgres.store(routed.events, rows, DELIVERY_COLUMNS)


def _store_step_by_step(routed: RoutedEvents) -> tuple[list[Event], dict[str, int], int]:
    """(the inserted events, pending deliveries per inserted event id, deliveries inserted): insert the new events,
    read which routed endpoints still exist, hold what the monthly limit holds, insert the deliveries."""
    tenant = routed.tenant
    created = _insert_events(routed.events)
    routings = [(event, routed.routings[event.event_id]) for event in created]
    live = _existing_endpoints({route.endpoint_id for _, routing in routings for route, _, _ in _targets(routing)})
    rows: list[tuple] = []
    per_event: dict[str, int] = {}
    for event, routing in routings:
        per_event[event.event_id] = sum(route.endpoint_id in live for route, _ in routing.deliveries)
        rows += _delivery_rows(tenant, event, event.pk, routing, live, routed.now)
    rows = hold_over_limit(tenant, rows, routed.now)  # the tenant's monthly webhooks limit: emporix/limits.py
    insert_rows(Delivery, DELIVERY_COLUMNS, rows)
    return created, per_event, len(rows)


DELIVERY_COLUMNS = ("webhook_id", "tenant", "event", "endpoint", "url", "event_type", "body", "content_type", "status",
                    "attempt_count", "next_attempt_at", "finished_at", "last_error", "created_at",
                    "order_key", "order_at")  # limits.py reads it too


def _delivery_rows(tenant, event, event_ref, routing: Routing, live: set | None, now) -> list[tuple]:
    """Delivery rows as tuples (DELIVERY_COLUMNS): no model instance for a row nobody reads back. `event_ref` goes in
    the event column (the primary key, or the id the one-statement store joins on); `live`: the endpoints still
    there (None: the statement checks)."""
    rows = []
    envelope = None  # built for the first endpoint with `ordering`: unordered traffic never builds it
    for route, body, undecided in _targets(routing):
        if live is not None and route.endpoint_id not in live:
            continue
        content_type = CONTENT_TYPES.get(route.payload_format, "application/json")
        order_key = order_at = None
        if route.ordering is not None:
            envelope = envelope or event.envelope(tenant.name)
            order_key = route.ordering.key_of(envelope)
            order_at = event.timestamp if order_key is not None else None
        if undecided:  # recorded as failed, never sent, saying why (a manual retry sends it)
            error = UNDECIDED_ERROR.format(ms=hub_setting("MATCHING_BUDGET_MS"))
            rows.append((new_webhook_id(), tenant.pk, event_ref, route.endpoint_id, route.url, event.type, body, content_type,
                         DeliveryStatus.FAILED.value, 0, None, now, error, now, order_key, order_at))
        else:
            rows.append((new_webhook_id(), tenant.pk, event_ref, route.endpoint_id, route.url, event.type, body, content_type,
                         DeliveryStatus.PENDING.value, 0, now, None, "", now, order_key, order_at))
    return rows


def _targets(routing: Routing) -> list[tuple[Route, str, bool]]:
    """(route, body, undecided) for every endpoint the event concerns."""
    return [(r, body, False) for r, body in routing.deliveries] + [(r, body, True) for r, body in routing.undecided]


def _existing_endpoints(endpoint_ids: set) -> set:
    """Those of endpoint_ids still in the database: one deleted after routing gets no delivery (its row would
    point nowhere)."""
    pk = Endpoint._meta.pk
    rows = _values_in(f"SELECT id FROM {Endpoint._meta.db_table} WHERE", "id", [pk.get_db_prep_value(i, connection) for i in endpoint_ids])
    return {pk.to_python(value) for value in rows}


def _values_in(select, column, values, params=(), chunk=500) -> list:
    """The first column of `select` ... `column` IN (values), in chunks; plain SQL: these run once per batch on the
    hot path, where compiling a queryset costs more than the query."""
    found = []
    with connection.cursor() as cursor:
        for start in range(0, len(values), chunk):
            part = values[start:start + chunk]
            cursor.execute(f"{select} {column} IN ({', '.join(['%s'] * len(part))})", [*params, *part])
            found += [row[0] for row in cursor.fetchall()]
    return found


def _insert_events(events: list[Event]) -> list[Event]:
    """The events whose id is new for the tenant (another writer may have stored one since route_events looked)."""
    return insert_new(Event, events, ["tenant", "event_id"])

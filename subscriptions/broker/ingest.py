"""Broker ingest, ORM only (no pika): turn a batch of broker messages into events, deliveries and dead letters.

convert a batch (core.messages.convert), route its events (matching, before any transaction) and store its events,
deliveries and dead letters in ONE transaction, each tenant's events in a savepoint of their own, so that what one
message or one tenant's configuration does becomes dead letters of that message, never a batch that cannot commit.
(On PostgreSQL a batch of one tenant's events alone is one statement, a transaction of its own; see _store.)
The consumer that feeds it batches and acknowledges them after the commit is broker/dispatch.py.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from eventhub.conf import hub_setting
from subscriptions.broker.sources import (
    already_dead_lettered, dead_letter_row, failure, load_rules, not_recorded, rules_stamp, store_dead_letters,
)
from subscriptions.core.amqp import Rules
from subscriptions.core.messages import Converted, Message, convert
from subscriptions.pipeline.recording import (
    IncomingEvent, RoutedEvents, record_events, route_events, store_in_transaction, stored_in_one_statement,
)

logger = logging.getLogger(__name__)


@dataclass
class Delivered:
    """One message as the consumer got it."""

    tag: int
    message: Message
    redelivered: bool = False
    raw_properties: object = None  # pika BasicProperties, republished as they came with dead letters


@dataclass
class BatchOutcome:
    events: int = 0  # new events stored
    dead: list[tuple[Delivered, str]] = field(default_factory=list)  # to publish to the dead-letter exchange


class RulesCache:
    """The sources and event types, re-read when rules_stamp() changes (one query per check)."""

    def __init__(self):
        self.stamp = None
        self.rules: Rules = Rules([], {})
        self.tenants: dict = {}

    def current(self) -> Rules:
        stamp = rules_stamp()
        if stamp != self.stamp:
            self.rules, self.tenants = load_rules()
            self.stamp = stamp
        return self.rules


def ingest_batch(batch: list[Delivered], cache: RulesCache) -> BatchOutcome:
    """Store the batch in one transaction. Whatever one message does, the others are stored: a message that cannot
    be converted or recorded becomes a dead letter with its reason (and its tenant when a source matched); each
    tenant's events go in a savepoint of their own, so one tenant's configuration cannot fail another's events.
    What is no message's doing propagates and nothing is stored (the batch is retried): OperationalError and
    InterfaceError (the database is away), and a failure to load the rules. The dispatcher runs the two halves,
    prepare_batch and store_batch, on two threads, so one batch is routed while the one before it commits."""
    return store_batch(prepare_batch(batch, cache))


def prepare_batch(batch: list[Delivered], cache: RulesCache) -> Prepared:
    """Convert and route the batch, writing nothing (matching must not run inside a transaction: on SQLite it would
    hold the database-wide write lock)."""
    rules = cache.current()
    try:
        return _prepare(batch, rules, cache.tenants)
    except (OperationalError, InterfaceError):
        raise
    except Exception:  # outside what _convert and _route catch (a bug): the batch is stored message by message
        logger.exception("a batch of %d could not be prepared; storing its messages one by one", len(batch))
        return Prepared(batch, rules, cache.tenants, failed=True)


def store_batch(prepared: Prepared) -> BatchOutcome:
    """prepare_batch's batch in one transaction; a failure outside the per-tenant savepoints (a bug, or a dead letter
    refused) isolates message by message."""
    if not prepared.failed:
        try:
            return _store(prepared)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("a batch of %d could not be stored; storing its messages one by one", len(prepared.batch))
    outcome = BatchOutcome()
    for item in prepared.batch:
        try:
            single = _store(_prepare([item], prepared.rules, prepared.tenants))
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            single = _dead_letter_alone(item, f"the message could not be stored: {failure(exc)}", prepared.rules)
        outcome.events += single.events
        outcome.dead += single.dead
    return outcome


def _dead_letter_alone(item: Delivered, reason: str, rules: Rules) -> BatchOutcome:
    """The last resort for a message that failed even alone: a dead letter for each tenant whose source matches it
    (or for none); when even that cannot be stored, the message still goes to the dead-letter exchange (before its
    ack), so it is never lost."""
    try:
        sources = rules.matching_sources(item.message.exchange, item.message.routing_key)
    except Exception:
        sources = []
    try:
        with transaction.atomic():
            store_dead_letters([dead_letter_row(item.message, reason, s.tenant_id, s.id) for s in sources]
                               or [dead_letter_row(item.message, reason)])
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("a dead letter could not be stored; the message is kept on the dead-letter exchange only")
    return BatchOutcome(dead=[(item, reason)])


class _Refusals:
    """The dead letters of one batch: rows to store, and per message the reasons it is published with."""

    def __init__(self, now):
        self.now = now
        self.rows: list = []
        self.reasons: dict[int, tuple[Delivered, list[str]]] = {}  # by position in the batch

    def add(self, position: int, item: Delivered, reason: str, tenant_id=None, source_id=None):
        self.reasons.setdefault(position, (item, []))[1].append(reason)
        row = dead_letter_row(item.message, reason, tenant_id, source_id, self.now)
        if not (item.redelivered and already_dead_lettered(row)):  # its ack was lost after the commit
            self.rows.append(row)

    def dead(self) -> list[tuple[Delivered, str]]:
        return [(item, "; ".join(dict.fromkeys(reasons))) for _, (item, reasons) in sorted(self.reasons.items())]


@dataclass
class Prepared:
    """A batch converted and routed by prepare_batch (no transaction), for store_batch's transaction."""

    batch: list[Delivered]
    rules: Rules
    tenants: dict
    now: object = None
    refusals: _Refusals | None = None
    routed: list = field(default_factory=list)  # (tenant, [(position, Delivered, Converted)], RoutedEvents | None)
    failed: bool = False  # preparing failed outside what one message or one tenant explains: store one by one

    @property
    def ordered(self) -> bool:
        """Whether storing it may create a keyed delivery (an endpoint with `ordering`): such a batch is stored only
        after every batch received before it (Dispatcher._commit). A group whose routing failed counts as keyed."""
        return self.failed or any(
            routed is None or any(route.ordering is not None for routing in routed.routings.values() for route, _ in routing.deliveries)
            for _, _, routed in self.routed
        )


def _prepare(batch: list[Delivered], rules: Rules, tenants: dict) -> Prepared:
    now = timezone.now()
    limit = hub_setting("MAX_MESSAGE_BYTES")
    refusals = _Refusals(now)
    per_tenant: dict[int, list[tuple[int, Delivered, Converted]]] = defaultdict(list)
    for position, item in enumerate(batch):
        for converted in _convert(item.message, rules, limit):
            if converted.event is not None:
                per_tenant[converted.tenant_id].append((position, item, converted))
            else:
                refusals.add(position, item, converted.reason, converted.tenant_id, converted.source_id)
    routed = [(tenants.get(tenant_id), group) for tenant_id, group in per_tenant.items()]
    routed = [(tenant, group, _route(tenant, group, now)) for tenant, group in routed]
    return Prepared(batch, rules, tenants, now, refusals, routed)


def _store(prepared: Prepared) -> BatchOutcome:
    if _alone_in_one_statement(prepared):
        # One tenant's events and nothing else to store, on PostgreSQL: one statement (pipeline/postgres.py), run
        # outside a transaction block, is a transaction of its own (as group commit's): no BEGIN, savepoint or
        # COMMIT round trips (bench/dispatch.py: 0.51-0.58 of the bare tools, against 0.43-0.52 with them). It
        # stores all or nothing; when it is refused, the path below takes the batch again and finds the culprits.
        tenant, group, routed = prepared.routed[0]
        try:
            return BatchOutcome(events=sum(r.created for r in store_in_transaction(routed)))
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.warning("tenant %s: %d events could not be stored in one statement; storing them in savepoints",
                           tenant.name, len(group), exc_info=True)
    events = 0
    with transaction.atomic():
        for tenant, group, routed_group in prepared.routed:
            events += _record_tenant(tenant, group, routed_group, prepared.refusals, prepared.now)
        store_dead_letters(prepared.refusals.rows)
    return BatchOutcome(events=events, dead=prepared.refusals.dead())


def _alone_in_one_statement(prepared: Prepared) -> bool:
    """One tenant's routed events, no dead letter, one statement's worth, and no caller's transaction open (in one,
    a refused statement would abort it)."""
    return (len(prepared.routed) == 1 and prepared.routed[0][2] is not None and not prepared.refusals.reasons
            and not connection.in_atomic_block and stored_in_one_statement(prepared.routed[0][2]))


def _convert(message: Message, rules: Rules, limit: int) -> list[Converted]:
    """broker.convert, with an unexpected failure as a reason for each tenant whose source matches (or for none)."""
    try:
        return convert(message, rules, body_limit=limit)
    except Exception as exc:
        logger.exception("converting a message from %s %r failed", message.exchange, message.routing_key)
        reason = f"the message could not be converted: {failure(exc)}"
        try:
            sources = rules.matching_sources(message.exchange, message.routing_key)
        except Exception:
            sources = []
        return [Converted(s.tenant_id, s.id, reason=reason) for s in sources] or [Converted(None, None, reason=reason)]


def _route(tenant, group: list[tuple[int, Delivered, Converted]], now) -> RoutedEvents | None:
    """The tenant's events routed together, or None when that fails (_record_tenant then takes them one by one)."""
    if tenant is None:
        return None
    try:
        return route_events(tenant, [IncomingEvent(**converted.event) for _, _, converted in group], now=now)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.warning("tenant %s: %d events could not be routed together; recording them one by one",
                       tenant.name, len(group), exc_info=True)
        return None


def _record_tenant(tenant, group: list[tuple[int, Delivered, Converted]], routed: RoutedEvents | None,
                   refusals: _Refusals, now) -> int:
    """Store one tenant's routed events in a savepoint. When the database or the tenant's configuration (e.g. an
    endpoint whose body cannot be encoded) refuses the group, each event is recorded alone: the culprits become the
    tenant's dead letters with the reason, the rest is recorded. (Only that rare path routes inside the transaction.)"""
    if routed is not None:
        try:
            with transaction.atomic():
                return sum(r.created for r in store_in_transaction(routed))
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.warning("tenant %s: %d events could not be recorded together; recording them one by one",
                           getattr(tenant, "name", None), len(group), exc_info=True)
    created = 0
    for position, item, converted in group:
        try:
            with transaction.atomic():
                created += _record(tenant, [converted], now)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            reason = f"the event could not be recorded: {not_recorded(tenant, converted.event, exc)}"
            refusals.add(position, item, reason, converted.tenant_id, converted.source_id)
    return created


def _record(tenant, converted: list[Converted], now) -> int:
    if tenant is None:
        raise LookupError("the source's tenant was not loaded with the rules")
    return sum(r.created for r in record_events(tenant, [IncomingEvent(**c.event) for c in converted], now=now))

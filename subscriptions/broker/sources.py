"""Broker sources and dead letters: versioned source changes, the rules the dispatcher reads, dead-letter storage, redrive."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from eventhub.conf import hub_setting
from eventhub.json_limits import storable_json, storable_text
from subscriptions.catalog import type_rules
from subscriptions.core.amqp import EXCHANGE_TYPES, Rules, SourceRule
from subscriptions.core.messages import Message, convert, unstorable_reason
from subscriptions.models import DeadLetter, Event, EventType, Source
from subscriptions.pipeline.recording import IncomingEvent, Recorded, record_events
from subscriptions.pipeline.routing import routing_index
from subscriptions.signals import announce, message_dead_lettered
from tenants.models import Tenant


logger = logging.getLogger(__name__)


class SourceNameTaken(Exception):
    pass


@dataclass
class Conflict:
    source: Source


def create_source(tenant, values) -> Source:
    now = timezone.now()
    try:
        with transaction.atomic():
            return Source.objects.create(tenant=tenant, created_at=now, modified_at=now, **values)
    except IntegrityError:
        raise SourceNameTaken(f"A source named '{values.get('name')}' exists already.")


def update_source(source, values, version):
    """Apply a change only on the current version (compare-and-swap); a stale or missing version is a Conflict."""
    if version is None or version != source.version:
        return Conflict(source)
    try:
        with transaction.atomic():
            updated = Source.objects.filter(pk=source.pk, version=version).update(
                version=F("version") + 1, modified_at=timezone.now(), **values
            )
    except IntegrityError:
        raise SourceNameTaken(f"A source named '{values.get('name')}' exists already.")
    source.refresh_from_db()
    return source if updated else Conflict(source)


def delete_source(source):
    source.delete()


# --- the dispatcher's view: enabled sources and known event types --------------------------------


def rules_stamp() -> tuple:
    """Changes whenever a source or an event type is created, changed or removed. The dispatcher asks before every
    batch: one plain query (two ORM aggregates cost twice the round trips and 7% of a batch's CPU compiling)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT count(*) FROM {quote(Source._meta.db_table)}), "
                       f"(SELECT max({quote(Source._meta.get_field('modified_at').column)}) FROM {quote(Source._meta.db_table)}), "
                       f"(SELECT count(*) FROM {quote(EventType._meta.db_table)}), "
                       f"(SELECT max({quote(EventType._meta.get_field('updated_at').column)}) FROM {quote(EventType._meta.db_table)})")
        return tuple(cursor.fetchone())


def source_row_problem(source: Source) -> str | None:
    """Why a stored source would break conversion (not the API's stricter rules: a row may predate them), or None."""
    if source.exchange_type not in EXCHANGE_TYPES:
        return f"exchange type {source.exchange_type!r} is not one of {', '.join(EXCHANGE_TYPES)}"
    if not isinstance(source.binding_keys, list) or not all(isinstance(k, str) for k in source.binding_keys):
        return "its binding keys are not a list of strings"
    return None


def load_rules(tenant_ids=None) -> tuple[Rules, dict[int, Tenant]]:
    """The enabled sources (of `tenant_ids`, or all) as Rules, and their tenants by id."""
    sources = Source.objects.filter(enabled=True).order_by("created_at", "id")
    if tenant_ids is not None:
        sources = sources.filter(tenant_id__in=tenant_ids)
    rules = []
    for s in sources:
        problem = source_row_problem(s)
        if problem:  # validated at save; a row changed another way must not stop the other tenants' messages
            logger.error("source %s of tenant %s is ignored: %s", s.id, s.tenant_id, problem)
            continue
        rules.append(
            SourceRule(
                id=s.id,
                tenant_id=s.tenant_id,
                exchange=s.exchange,
                exchange_type=s.exchange_type,
                binding_keys=tuple(s.binding_keys),
                type_from=s.type_from,
                type_field=s.type_field,
                catch_all_type=s.catch_all_type,
            )
        )
    tenant_ids = {r.tenant_id for r in rules}
    builtin, own = set(), {t: set() for t in tenant_ids}
    for tenant_id, key in EventType.objects.filter(Q(tenant__isnull=True) | Q(tenant_id__in=tenant_ids)).values_list("tenant_id", "key"):
        (builtin if tenant_id is None else own[tenant_id]).add(key)
    known = {t: frozenset(builtin | keys) for t, keys in own.items()}
    tenants = Tenant.objects.in_bulk(tenant_ids)
    return Rules(rules, known, type_rules()), tenants


# --- dead letters ---------------------------------------------------------------------------


def dead_letter_row(message: Message, reason: str, tenant_id=None, source_id=None, now=None) -> DeadLetter:
    """A DeadLetter for a message (not saved): the body as text, bounded, undecodable bytes replaced. Every text is
    made storable (NUL and lone surrogates replaced): a dead letter must be kept whatever the message held."""
    limit = hub_setting("DEAD_LETTER_BODY_BYTES")
    return DeadLetter(
        tenant_id=tenant_id,
        source_id=source_id,
        exchange=storable_text(message.exchange[:255]),
        routing_key=storable_text(message.routing_key[:255]),
        properties=storable_json(message.properties),
        body=storable_text(message.body[:limit].decode("utf-8", errors="replace")),
        body_size=len(message.body),
        reason=storable_text(reason[:2000]),
        received_at=now or timezone.now(),
    )


def store_dead_letters(rows: list[DeadLetter]) -> list[DeadLetter]:
    """Insert dead letters inside the caller's transaction; each is announced after the commit."""
    if not rows:
        return []
    created = DeadLetter.objects.bulk_create(rows)
    transaction.on_commit(lambda: [announce(message_dead_lettered, dead_letter=row) for row in created])
    return created


def already_dead_lettered(row: DeadLetter) -> bool:
    """A redelivered message was stored before its ack got lost: the same row within the last day."""
    return DeadLetter.objects.filter(
        tenant_id=row.tenant_id,
        exchange=row.exchange,
        routing_key=row.routing_key,
        body_size=row.body_size,
        reason=row.reason,
        received_at__gte=row.received_at - timedelta(days=1),
        body=row.body,
    ).exists()


def failure(exc: Exception) -> str:
    """An exception as a short reason (PostgreSQL's message without the SQL it quotes)."""
    text = str(exc).split("\nLINE ")[0].strip()
    return f"{type(exc).__name__}: {text[:300]}"


def endpoint_problem(tenant, event: dict) -> str | None:
    """Which of the tenant's endpoints renders `event` into text the hub cannot store (the usual reason a converted
    event is refused: a configuration stored around validation), so the dead letter says what to fix. Best effort."""
    try:
        timestamp = event["timestamp"] or timezone.now()
        envelope = Event(event_id=event["id"], type=event["type"], timestamp=timestamp, data=event["data"]).envelope(tenant.name)
        for route, body in routing_index(tenant).deliveries_for(envelope):
            problem = unstorable_reason(body, "its body") or unstorable_reason(route.url, "its URL")
            if problem:
                return f"endpoint {route.endpoint_id} renders it, and {problem}; correct the endpoint, then redrive"
    except Exception:
        pass
    return None


def not_recorded(tenant, event: dict, exc: Exception) -> str:
    """Why record_events refused `event` (already converted, so its own text is storable), for a dead letter."""
    culprit = endpoint_problem(tenant, event)
    return f"{culprit} ({failure(exc)})" if culprit else failure(exc)


class RedriveFailed(Exception):
    """str(exc) says why the stored message still cannot become an event."""


def redrive_dead_letter(dead_letter: DeadLetter) -> Recorded:
    """Convert the stored message again (after the missing source or type was created); record it on success."""
    if dead_letter.tenant_id is None:
        raise RedriveFailed("This message matched no tenant's source; it cannot be re-driven for a tenant.")
    if dead_letter.reason.startswith("body is not UTF-8"):
        raise RedriveFailed("The original body is not UTF-8; only the producer can fix it.")
    body = dead_letter.body.encode("utf-8")
    if len(body) != dead_letter.body_size:
        raise RedriveFailed(f"Only {len(body)} of the body's {dead_letter.body_size} bytes were kept; it cannot be re-driven.")
    message = Message(dead_letter.exchange, dead_letter.routing_key, body, dead_letter.properties or {})
    rules, tenants = load_rules([dead_letter.tenant_id])
    [outcome] = convert(message, rules, tenant_id=dead_letter.tenant_id, body_limit=hub_setting("MAX_MESSAGE_BYTES"))
    if outcome.event is None:
        raise RedriveFailed(f"The message still cannot become an event: {outcome.reason}.")
    tenant = tenants[outcome.tenant_id]
    with transaction.atomic():
        try:
            with transaction.atomic():
                [recorded] = record_events(tenant, [IncomingEvent(**outcome.event)])
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:  # e.g. an endpoint of the tenant renders text the database cannot store: a 400, not a 500
            raise RedriveFailed(f"The event still cannot be recorded: {not_recorded(tenant, outcome.event, exc)}.")
        # A repeat finds its event stored already: redriven_at keeps saying when the letter became that event.
        redriven = DeadLetter.objects.filter(pk=dead_letter.pk)
        if not recorded.created:
            redriven = redriven.filter(redriven_at__isnull=True)
        redriven.update(redriven_at=timezone.now())
    dead_letter.refresh_from_db()
    return recorded


def dead_letters_of(tenant):
    return DeadLetter.objects.filter(tenant=tenant).select_related("source").order_by("-received_at", "-id")

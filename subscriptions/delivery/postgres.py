"""The delivery worker's two statements on PostgreSQL: a claim and a record, each ONE round trip for a whole batch.

Under load every round trip waits for the database to be scheduled, so the portable path's seven or so statements
per cycle (claims.py, which SQLite uses) become two here, with the same rules and the same messages:

- claim: choose the due deliveries (FOR UPDATE SKIP LOCKED, in the delivery_due index's order, from `after` when
  given), lease them for their endpoint's timeout plus the margin, or fail them when their endpoint is gone or
  disabled, and read them with their endpoint and its current signing secrets (expires_at unset or in the future,
  newest first, as endpoints.services.signing_secrets_by_endpoint reads them);
- record: insert the Attempt rows and write each delivery's new state (and its URL when the endpoint's changed), from
  one JSON document.
"""

from __future__ import annotations

from functools import lru_cache

import orjson
from django.db import connection
from psycopg import Cursor
from psycopg.types.json import JsonbBinaryLoader

from subscriptions.bulk import document_values
from subscriptions.core.jsontext import rows_json
from subscriptions.delivery.ordering import CLAIMABLE_IN_KEY_ORDER_SQL

CLAIM_SQL = """
WITH due AS (
    SELECT id, endpoint_id FROM subscriptions_delivery
    WHERE status = 'pending' AND next_attempt_at <= %(now)s AND (lease_until IS NULL OR lease_until <= %(now)s) {only}
    ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), secrets AS (
    SELECT endpoint_id, array_agg(secret ORDER BY created_at DESC) AS current FROM subscriptions_endpointsecret
    WHERE endpoint_id IN (SELECT endpoint_id FROM due) AND (expires_at IS NULL OR expires_at > %(now)s)
    GROUP BY endpoint_id
)
UPDATE subscriptions_delivery AS d SET
    lease_until = CASE WHEN e.enabled THEN %(now)s + make_interval(secs => e.timeout_seconds + %(margin)s) END,
    status = CASE WHEN e.enabled THEN d.status ELSE 'failed' END,
    last_error = CASE WHEN e.enabled THEN d.last_error WHEN e.id IS NULL THEN %(deleted)s
                      WHEN e.disabled_reason <> '' THEN %(disabled_because)s || e.disabled_reason ELSE %(disabled)s END,
    finished_at = CASE WHEN e.enabled THEN d.finished_at ELSE %(now)s END,
    next_attempt_at = CASE WHEN e.enabled THEN d.next_attempt_at END
FROM due LEFT JOIN subscriptions_endpoint AS e ON e.id = due.endpoint_id LEFT JOIN secrets AS s ON s.endpoint_id = due.endpoint_id
WHERE d.id = due.id
RETURNING d.id, d.tenant_id, d.event_type, d.body, d.attempt_count, d.url, d.endpoint_id, e.url, e.method, e.headers,
    e.timeout_seconds, e.enabled, e.disabled_reason, d.webhook_id, d.content_type, e.failing_since IS NOT NULL,
    e.retry_schedule, e.circuit_state, e.rate_limit, d.next_attempt_at, coalesce(s.current, '{{}}'), d.order_key IS NOT NULL
"""

class _JsonbLoader(JsonbBinaryLoader):
    """The claim's jsonb columns (an endpoint's headers and retry schedule, on every row) read by orjson, in C."""

    _loads = orjson.loads


def claim(limit, ids, skip_endpoints, now, margin, messages: dict, after=None) -> list[tuple]:
    """The claimed rows, oldest due first: claims.ClaimRow's fields (claim_key is (next_attempt_at, id); ordered,
    whether the delivery has an order key), then the endpoint's current secrets."""
    only, params = " AND " + CLAIMABLE_IN_KEY_ORDER_SQL, {"now": now, "limit": limit, "margin": margin, **messages}
    if after is not None:
        only += " AND (next_attempt_at, id) > (%(after_at)s, %(after_id)s)"
        params["after_at"], params["after_id"] = after
    if ids is not None:
        only += " AND id = ANY(%(ids)s)"
        params["ids"] = list(ids)
    if skip_endpoints:
        only += " AND (endpoint_id IS NULL OR NOT endpoint_id = ANY(%(skip)s))"
        params["skip"] = list(skip_endpoints)
    # Server-side bound and binary, like the record: psycopg prepares the statement after a few executions (its
    # planning cost ~1.3 ms a claim) and decodes the rows in C, the jsonb columns too (Django's cursor reads them as
    # text for its JSONField to decode, one Python call per column and row).
    connection.ensure_connection()
    with connection.wrap_database_errors, Cursor(connection.connection) as cursor:
        cursor.adapters.register_loader("jsonb", _JsonbLoader)
        cursor.execute(CLAIM_SQL.format(only=only), params, binary=True)
        returned = cursor.fetchall()
    returned.sort(key=lambda row: (row[19], row[0]))  # RETURNING keeps no order
    return [row[:19] + ((row[19], row[0]), row[21], row[20]) for row in returned]


def record(attempt_fields, attempts: list[tuple], deliveries: list[tuple]) -> None:
    """Insert `attempts` (tuples of `attempt_fields`) and write `deliveries`: (id, status, attempt_count,
    next_attempt_at, last_status_code, last_error, finished_at, url or None to keep it), in one statement.

    The rows go as ONE JSON document (orjson, in C; PostgreSQL takes it apart): as binary arrays the same values cost
    the worker's database thread ~9 µs of Python per delivery (a dumper call per value), as one document ~3 µs, and
    that thread's Python holds the GIL the event loop's sends need."""
    document = _document(attempts, deliveries)
    connection.ensure_connection()
    with connection.wrap_database_errors, Cursor(connection.connection) as cursor:
        cursor.execute(_record_document_sql(tuple(attempt_fields)), [document], binary=True)


def _document(attempts, deliveries) -> str:
    """[[the attempt's values..., the delivery's...], ...] as JSON text (every text in them is storable: see
    sender.SendResult and answers.answer)."""
    return rows_json([(*attempt, *delivery) for attempt, delivery in zip(attempts, deliveries, strict=True)])


@lru_cache(maxsize=4)
def _record_document_sql(attempt_fields: tuple[str, ...]) -> str:
    """The record from one document: element i of each row is attempt_fields[i], then the delivery's state (its id,
    status, attempt_count, next_attempt_at, last_status_code, last_error, finished_at, url)."""
    from subscriptions.models import Attempt

    quote = connection.ops.quote_name
    fields = [Attempt._meta.get_field(name) for name in attempt_fields]
    values = document_values(fields)
    n = len(fields)
    delivery_at = [field.column for field in fields].index("delivery_id")
    # Attempts only for deliveries that still exist: one deleted while it was sent (its tenant's) has nothing to record
    # against, and its attempt's foreign key would fail the whole statement, the batch's other results (other
    # tenants') with it.
    return f"""
WITH rows AS MATERIALIZED (SELECT r FROM jsonb_array_elements(%s::jsonb) AS r),
attempts AS (
    INSERT INTO {quote(Attempt._meta.db_table)} ({", ".join(quote(f.column) for f in fields)})
    SELECT {", ".join(values)} FROM rows JOIN subscriptions_delivery AS kept ON kept.id = (r->>{delivery_at})::bigint
)
UPDATE subscriptions_delivery AS d SET status = r->>{n + 1}, attempt_count = (r->>{n + 2})::integer,
    next_attempt_at = (r->>{n + 3})::timestamptz, lease_until = NULL, last_status_code = (r->>{n + 4})::smallint,
    last_error = r->>{n + 5}, finished_at = (r->>{n + 6})::timestamptz, url = coalesce(r->>{n + 7}, d.url)
FROM rows
WHERE d.id = (r->>{n})::bigint
"""

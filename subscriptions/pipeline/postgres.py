"""Recording on PostgreSQL: a batch's new events and their deliveries in ONE statement.

The portable path (recording.store_in_transaction, which SQLite uses) makes three round trips in the transaction:
insert the events (ON CONFLICT DO NOTHING RETURNING), read which of the routed endpoints still exist, insert the
deliveries. Under load each round trip waits for the database to be scheduled, and group commit's one thread makes
them one after the other; here one data-modifying CTE does all three, with the same rules:

- an event whose id the tenant stored before (or that another writer stores first) is not inserted, and nor are its
  deliveries: they join the events this statement inserted;
- a delivery whose endpoint was deleted after routing is not inserted: it joins the endpoints that still exist;
- the answer names, per inserted event, its new primary key and how many deliveries it got that will be sent
  (pending; the undecided ones are stored failed and not counted, as in the portable path).

The delivery rows come as recording.DELIVERY_COLUMNS tuples whose `event` value is the event's id (its key), not yet
its primary key. A tenant with a monthly webhooks limit takes the portable path (the limit needs the rows first).
"""

from __future__ import annotations

from functools import lru_cache

from django.db import connection
from psycopg import Cursor

from subscriptions.bulk import BATCH, adopt_inserted, document_values, insert_new_statement
from subscriptions.core.jsontext import rows_json
from subscriptions.models import Delivery, DeliveryStatus, Endpoint, Event

KEY_FIELDS = ["tenant", "event_id"]


@lru_cache(maxsize=4)
def _statement(columns: tuple[str, ...]):
    """(the function making the events' parameter, the statement): built once per process."""
    events_sql, event_params = insert_new_statement(Event, KEY_FIELDS)
    quote = connection.ops.quote_name
    fields = [Delivery._meta.get_field(name) for name in columns]
    event_at, endpoint_at = columns.index("event"), columns.index("endpoint")
    chosen = document_values(fields, "d.r")
    chosen[event_at] = "ev.id"
    return event_params, f"""
WITH ev AS ({events_sql}),
dl AS (
    INSERT INTO {quote(Delivery._meta.db_table)} ({", ".join(quote(f.column) for f in fields)})
    SELECT {", ".join(chosen)}
    FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS d(r, place)
    JOIN ev ON ev.event_id = d.r->>{event_at}
    JOIN {quote(Endpoint._meta.db_table)} AS p ON p.id = (d.r->>{endpoint_at})::{fields[endpoint_at].db_type(connection)}
    ORDER BY d.place  -- the joins may reorder; ids follow the rows' order (ordered delivery's "arrival")
    RETURNING event_id, status
)
SELECT ev.id, ev.tenant_id, ev.event_id, count(dl.event_id) FILTER (WHERE dl.status = '{DeliveryStatus.PENDING.value}'),
       count(dl.event_id)
FROM ev LEFT JOIN dl ON dl.event_id = ev.id GROUP BY ev.id, ev.tenant_id, ev.event_id
"""


def store(events: list[Event], rows: list[tuple], columns: tuple[str, ...]) -> tuple[list[Event], dict[str, int], int]:
    """Insert the new ones of `events` and the `rows` of those; (the inserted events with their primary keys set,
    pending deliveries per inserted event id, deliveries inserted). One statement per BATCH events."""
    if not events:
        return [], {}, 0
    event_params, sql = _statement(columns)
    event_at = columns.index("event")
    by_event: dict[str, list[tuple]] = {}
    for row in rows:
        by_event.setdefault(row[event_at], []).append(row)
    connection.ensure_connection()
    found, pending, inserted = [], {}, 0
    for start in range(0, len(events), BATCH):
        chunk = events[start:start + BATCH]
        chunk_rows = [row for event in chunk for row in by_event.get(event.event_id, ())]
        params = [*event_params(chunk), rows_json(chunk_rows)]
        with connection.wrap_database_errors, Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, binary=True)
            for pk, tenant_id, event_id, sent, count in cursor.fetchall():
                found.append((pk, tenant_id, event_id))
                pending[event_id] = sent
                inserted += count
    return adopt_inserted(Event, events, found, KEY_FIELDS), pending, inserted

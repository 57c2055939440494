"""Event text search's index on PostgreSQL, off unless an installation turns it on (`manage.py event_text_index on`).

Without it a search reads the tenant's newest `selectors.EVENT_TEXT_SCAN` bodies, on PostgreSQL as on SQLite; with it,
every body of the tenant, through a GIN trigram index on the body's JSON text (found in ~10 ms among 100,000 events,
bench/search.py). It is opt-in because every stored event pays for its trigrams on the hot path: in bench/dispatch.py
(2 cores) PostgreSQL's CPU per dispatched message was 208 µs with it and 66-86 µs without, and dispatch 5,170 msg/s
against 7,081-8,464 (issue 15). Migration 0009 made it for every installation; 0017 drops it (`on` builds it back).

Built CONCURRENTLY (ingest and dispatch go on while a large table is indexed); a build that failed or was interrupted
leaves an invalid index, which searches do not trust and `on` replaces.
"""

INDEX = "event_data_trgm"
CREATE = f"CREATE INDEX CONCURRENTLY {INDEX} ON subscriptions_event USING gin ((data::text) gin_trgm_ops)"

ABSENT, BUILDING, READY = "absent", "invalid (being built, or a build that failed)", "ready"


def supported(connection) -> bool:
    return connection.vendor == "postgresql"


def state(connection) -> str:
    """ABSENT, BUILDING or READY (one catalog lookup). On SQLite always ABSENT."""
    if not supported(connection):
        return ABSENT
    with connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = to_regclass(%s)", [INDEX])
        row = cursor.fetchone()
    if row is None:
        return ABSENT
    return READY if row[0] else BUILDING


def ready(connection) -> bool:
    """Whether searches may go through the index: it exists and its build finished."""
    return state(connection) == READY


def create(connection) -> bool:
    """Build the index (outside any transaction); an invalid one left by a failed build is dropped first. False when it
    was already ready. Raises DatabaseError where pg_trgm cannot be created (the database's owner may: it is trusted)."""
    if state(connection) == READY:
        return False
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        cursor.execute(CREATE)
    return True


def drop(connection) -> bool:
    """Drop the index (outside any transaction). False when there was none."""
    if state(connection) == ABSENT:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    return True

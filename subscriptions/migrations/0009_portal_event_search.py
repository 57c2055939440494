"""Search for text in event bodies (issue 19). PostgreSQL: a GIN trigram index on the body's JSON text, made
CONCURRENTLY so ingest goes on while it is built on a large table (hence a migration outside a transaction). SQLite:
nothing, the search reads the newest bodies (selectors.events_containing).

What it costs (bench/search.py, 100,000 events of ~340 bytes): every insert pays for the body's trigrams, ~70 µs of
PostgreSQL CPU an event (bench/dispatch.py: about a fifth fewer messages/s); a search's first page then takes ~10 ms
instead of ~450 ms. GiST costs inserts about half as much, but its signatures fill up on bodies of a few KiB and a
search reads most of the table; full text (tsvector) refuses bodies with many distinct words (over 1 MB of lexemes),
which would make such an event impossible to store. An installation that never searches may drop the index
(DROP INDEX event_data_trgm): searches still work, reading bodies, within their time limit.

pg_trgm ships with PostgreSQL and is a trusted extension (13+): the database's owner may create it. Where it cannot be
created, the migration says so and goes on: the search still works, without the index."""

from django.db import DatabaseError, migrations

INDEX = "event_data_trgm"


def create_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            print(f"\n  pg_trgm is not available ({exc}); event text search reads every body, without an index.")
            return
        cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON subscriptions_event USING gin ((data::text) gin_trgm_ops)")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("subscriptions", "0008_portal_links")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]

"""Event text search's trigram index (0009) dropped: it is opt-in from now on (`manage.py event_text_index on`).

Every stored event paid for its body's trigrams on the hot path (bench/dispatch.py, 2 cores: PostgreSQL's CPU per
dispatched message 208 µs with the index, 66-86 µs without; dispatch 5,170 msg/s against 7,081-8,464). Without it a
search reads the tenant's newest bodies, on PostgreSQL as on SQLite; an installation that searches its whole history
builds the index back with the command (CONCURRENTLY, ingest goes on). Reversing this migration builds it too.
subscriptions/text_index.py says more."""

import importlib

from django.db import migrations

made_by = importlib.import_module("subscriptions.migrations.0009_portal_event_search")  # its index, and how it made it


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {made_by.INDEX}")


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("subscriptions", "0016_delivery_fillfactor")]

    operations = [migrations.RunPython(drop_index, made_by.create_index, elidable=False)]

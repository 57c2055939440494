"""Room on each page of the delivery table for the claim's lease (PostgreSQL).

A delivery is written three times: inserted, leased by a claim, and given its result. The claim changes only
lease_until, which no index holds, so PostgreSQL can write the leased row as a heap-only tuple (HOT): on the same
page, with no new entry in the table's eight indexes. It can do that only where the page has room, and with the
default fillfactor (100) inserts leave none. At 70 a claim's update is HOT on many of its rows (68 of 200 in
tests/subscriptions/test_claims.py, none at 100: the room fills as a batch is leased): bench/deliver.py measured
PostgreSQL's CPU per delivery at 61-62 µs against 71-75 µs (four runs). The cost is a table ~30% larger on disk, on a
queue whose rows `manage.py prune` removes.

The setting applies to pages written from now on; existing rows keep their pages until they are pruned (VACUUM FULL
would rewrite them, under a lock, and is not needed). SQLite has no such setting: nothing there."""

from django.db import migrations

FILLFACTOR = 70


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE subscriptions_delivery SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE subscriptions_delivery RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0015_fewer_write_indexes")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]

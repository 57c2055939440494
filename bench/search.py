"""Text search in event bodies (GET /webhook/{tenant}/events?q=): what a search costs, and what a trigram index on the
body costs every insert. `manage.py event_text_index on` makes the GIN one (opt-in); without it ("none") a search
reads the tenant's newest events; GiST is measured beside them, to compare.

On a scratch database (PostgreSQL when DATABASE_URL names one: a database `<name>_search_bench` on that server, made
and dropped here; else SQLite in a temporary folder), one tenant's events of ~340-byte order bodies are inserted in
batches of 1,000 in one transaction, as pipeline/recording writes a batch; then the first page (50, newest first) is
searched for a rare text (one event), a text in 1% of them, a text in every body and a text in none.
BENCH_EXPLAIN=1 prints each search's plan.

    python bench/search.py [--events 50000]
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

NAMES = ["Anna Müller", "Ben Okafor", "Chen Wei", "Dana Kowalski", "Emil Sørensen", "Fatima Haddad", "Giulia Rossi"]


def body(i, rng):
    return {
        "order": {"number": f"ORD-{i:08d}", "channel": "web" if i % 100 else "marketplace-rare",
                  "customer": {"name": rng.choice(NAMES), "email": f"customer{i % 5000}@example.com"}},
        "items": [{"sku": f"SKU-{rng.randrange(10_000):05d}", "qty": rng.randrange(1, 5), "price": rng.randrange(100, 10_000) / 100}
                  for _ in range(3)],
        "total": rng.randrange(1_000, 100_000) / 100, "currency": "EUR", "status": "created",
    }


def insert(tenant, count, rng):
    """µs per event for the INSERTs alone: the rows are made first, then written 1,000 to a statement in one
    transaction, as pipeline/recording writes a batch."""
    from django.db import connection, transaction
    from django.utils import timezone

    from subscriptions.models import Event

    start = timezone.now() - timedelta(seconds=count)
    rows = [Event(tenant=tenant, event_id=f"e-{i}", type="order.created", timestamp=start + timedelta(seconds=i), data=body(i, rng),
                  received_at=start + timedelta(seconds=i)) for i in range(count)]
    began = time.perf_counter()
    with transaction.atomic():
        for offset in range(0, count, 1000):
            Event.objects.bulk_create(rows[offset:offset + 1000])
    elapsed = time.perf_counter() - began
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE subscriptions_event")
    return elapsed / count * 1e6


def search(tenant, text, repeat=5):
    from subscriptions import selectors

    best = None
    for _ in range(repeat):
        began = time.perf_counter()
        rows = list(selectors.recent_events(tenant, text=text, reach=selectors.text_search_reach())[:50])
        elapsed = (time.perf_counter() - began) * 1000
        best = elapsed if best is None else min(best, elapsed)
    return best, len(rows)


INDEXES = {  # `manage.py event_text_index on` makes "gin"; the others are here to compare
    "none": None,
    "gist": "CREATE INDEX event_data_trgm ON subscriptions_event USING gist ((data::text) gist_trgm_ops)",
    "gin": "CREATE INDEX event_data_trgm ON subscriptions_event USING gin ((data::text) gin_trgm_ops)",
}


def set_index(kind):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS event_data_trgm")
        if INDEXES[kind]:
            cursor.execute(INDEXES[kind])


def run(events):
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    from subscriptions.models import Event
    from tenants.services import create_tenant

    rng = random.Random(19)
    tenant = create_tenant("bench")[0]
    postgres = connection.vendor == "postgresql"
    print(f"database: {connection.vendor}, {events:,} events of ~{len(str(body(1, rng)))} bytes")
    searches = (("rare (1 event)", f"ORD-{events // 2:08d}"), ("1% of events", "marketplace-rare"), ("every event", "currency"),
                ("in no event", "customer99999@example.com"))
    measured = {}
    for kind in INDEXES if postgres else ["none"]:
        Event.objects.all().delete()
        if postgres:
            set_index(kind)
        per_event = insert(tenant, events, rng)
        print(f"index {kind}: insert {per_event:.0f} µs/event")
        measured[kind] = {"insert": per_event}
        for label, text in searches:
            elapsed, found = search(tenant, text)
            measured[kind][label] = elapsed
            print(f"  search {label:>15}: {elapsed:7.1f} ms for the first page ({found} found)")
            if os.environ.get("BENCH_EXPLAIN"):
                from subscriptions import selectors

                print(selectors.recent_events(tenant, text=text, reach=selectors.text_search_reach())[:50].explain(analyze=True))
    report(measured, postgres, events)


def report(measured, postgres, events):
    """RESULT lines for bench/run.py: inserts/s with the index against without it; searches/s of a rare text."""
    used = "gin" if postgres else "none"
    if postgres:
        figure, ceiling = 1e6 / measured["gin"]["insert"], 1e6 / measured["none"]["insert"]
        print("RESULT " + json.dumps({
            "name": "insert with the text index", "figure": round(figure), "unit": "events/s", "ceiling": round(ceiling),
            "ceiling_unit": "events/s (no text index)", "ratio": round(figure / ceiling, 2), "target": 0.5, "target_met": figure / ceiling >= 0.5,
            "note": "every insert extracts the body's trigrams into the GIN index (opt-in: manage.py event_text_index on)",
        }))
    rare = measured[used]["rare (1 event)"]
    print("RESULT " + json.dumps({
        "name": "event text search", "figure": round(1000 / rare, 1), "unit": f"searches/s (first page, rare text, {events:,} events)",
        "ceiling": None, "ratio": None, "target": None, "target_met": None,
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventhub.settings")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        from _common import ScratchPostgres

        base, name = url.rsplit("/", 1)
        scratch = ScratchPostgres(base, f"{name}_search_bench")
        os.environ["DATABASE_URL"] = scratch.url
        try:
            run(args.events)
        finally:
            from django.db import connections

            connections.close_all()
            scratch.close()
    else:
        with tempfile.TemporaryDirectory() as folder:
            os.environ["EVENTHUB_DATA_DIR"] = folder
            run(args.events)


if __name__ == "__main__":
    main()

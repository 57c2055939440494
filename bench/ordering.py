"""Ordered delivery's cost: deliveries/s through the hub's worker with `ordering` on 1,000 keys, next to the very
same deliveries without ordering, in the same run.

As bench/deliver.py: N events for a tenant with M endpoints, one per local receiver answering 200 at once, so the
worker has N x M deliveries; the figure is the time from starting a DeliveryWorker until every delivery is recorded
as succeeded. The events carry `entryID` = one of --keys values (round robin), and every endpoint has
`ordering: {"key": "/data/entryID"}`: a delivery waits while an earlier one of its endpoint and key is pending or
in flight. The ceiling is the same run with the deliveries unordered (their keys cleared: what an endpoint without
`ordering` records). The two alternate for --rounds rounds and the best of each is kept.
Database: PostgreSQL when DATABASE_URL is set (a scratch database next to it, dropped afterwards), else SQLite.

    python bench/ordering.py [--events 2500] [--receivers 4] [--keys 1000] [--concurrency 50] [--batch 100] [--rounds 3]
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from deliver import hub_worker, rearm, receivers_and_store  # noqa: E402

BY_ENTRY = {"key": "/data/entryID"}


def prepare(urls, events, keys):
    """Tenant, subscription, one ordered endpoint per receiver, N events over `keys` keys, recorded by the pipeline
    (so the deliveries get their keys as they would). Returns {delivery id: key}."""
    from django.core.management import call_command

    from subscriptions.endpoints.services import create_endpoint
    from subscriptions.models import Delivery
    from subscriptions.pipeline.recording import IncomingEvent, record_events
    from subscriptions.services import SubscriptionChange, apply_subscription_change
    from tenants.services import create_tenant

    call_command("migrate", verbosity=0)
    tenant = create_tenant("bench")[0]
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    for url in urls:
        create_endpoint(tenant, {"url": url, "events": ["product.created"], "timeout_seconds": 30, "ordering": BY_ENTRY})
    data = {"id": "p", "name": {"en": "A product of the benchmark"}, "description": {"en": "x" * 200}, "productType": "BASIC"}
    for start in range(0, events, 500):
        record_events(tenant, [IncomingEvent("product.created", {**data, "id": f"p{i}", "entryID": f"entry-{i % keys}"})
                               for i in range(start, min(events, start + 500))])
    recorded = dict(Delivery.objects.values_list("id", "order_key"))
    assert None not in recorded.values() and len(set(recorded.values())) == min(keys, events)
    return recorded


def set_ordered(recorded, ordered):
    """The deliveries with their recorded keys (ordered), or none (as an endpoint without `ordering` records them)."""
    from django.db import connection
    from django.db.models import F

    from subscriptions.models import Delivery, Endpoint

    Endpoint.objects.update(ordering=BY_ENTRY if ordered else None)
    if not ordered:
        Delivery.objects.update(order_key=None, order_at=None)
    else:
        by_key: dict[str, list[int]] = {}
        for delivery_id, key in recorded.items():
            by_key.setdefault(key, []).append(delivery_id)
        for key, ids in by_key.items():  # order_at: the event's timestamp, which recording took as its own time
            Delivery.objects.filter(pk__in=ids).update(order_key=key, order_at=F("created_at"))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE subscriptions_delivery" if connection.vendor == "postgresql" else "ANALYZE")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2500)
    parser.add_argument("--receivers", type=int, default=4)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with receivers_and_store("ordering", args.receivers) as (database, urls):
        from subscriptions.models import Delivery, DeliveryStatus

        recorded = prepare(urls, args.events, args.keys)
        total = len(recorded)
        best = {False: float("inf"), True: float("inf")}
        for _ in range(max(1, args.rounds)):
            for ordered in (False, True):
                set_ordered(recorded, ordered)
                rearm()
                best[ordered] = min(best[ordered], asyncio.run(hub_worker(total, args.concurrency, args.batch)))
                succeeded = Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count()
                assert succeeded == total, f"only {succeeded} of {total} deliveries succeeded"

    ordered_rate, unordered_rate = total / best[True], total / best[False]
    ratio = ordered_rate / unordered_rate
    pairs = args.receivers * min(args.keys, args.events)
    print(f"database:    {database}")
    print(f"deliveries:  {total} ({args.events} events x {args.receivers} receivers), concurrency {args.concurrency}, "
          f"batch {args.batch}, best of {args.rounds} rounds")
    print(f"ordered:     {ordered_rate:8.0f} deliveries/s  ({best[True]:.2f} s: {args.keys} keys per endpoint, "
          f"{pairs} endpoint-key pairs, {total / pairs:.1f} deliveries each, one at a time)")
    print(f"unordered:   {unordered_rate:8.0f} deliveries/s  ({best[False]:.2f} s: the same deliveries without keys)")
    print(f"ratio:       {ratio:.2f} (target >= 0.7)")
    result = {"name": "ordering", "figure": round(ordered_rate, 1), "unit": "deliveries/s", "ceiling": round(unordered_rate, 1),
              "ratio": round(ratio, 3), "ratio_means": "ordered on 1,000 keys / the same run without ordering",
              "target": 0.7, "target_met": ratio >= 0.7, "database": database}
    if ratio < 0.7:
        result["note"] = ("each claim asks, per ordered candidate, whether an earlier one of its key is pending or in flight "
                          "(delivery/ordering.py), and a worker that finished an ordered delivery claims from the start")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()

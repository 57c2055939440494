"""Delivery throughput: deliveries/s through the hub's worker, against a raw aiohttp client in the same run.

N events are recorded for a tenant with M endpoints, one per local receiver (aiohttp servers, each its own process,
answering 200 at once), so the worker has N x M deliveries to send. The hub figure is the time from starting a
DeliveryWorker (the same code `manage.py deliver` runs) until every delivery is recorded as succeeded: claim with a
lease, sign (Standard Webhooks), send, record the Attempt and the Delivery. The ceiling is a bare aiohttp client
posting the very same requests (bodies, and the worker's headers made once) to the same receivers with the same
concurrency, signing and recording nothing. The two alternate
for --rounds rounds and the best of each is kept (a shared machine's noise hits both alike).
Database: PostgreSQL when DATABASE_URL is set (a scratch database next to it, dropped afterwards), else SQLite in a
temporary folder.
BENCH_PROFILE=1 writes a py-spy profile of the hub worker's last round to bench/profiles/deliver.txt.

    python bench/deliver.py [--events 2500] [--receivers 4] [--concurrency 50] [--batch 100] [--rounds 2]
"""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import RECEIVER, Profiler, cpu_line, cpu_per_item, free_port, machine_cpu, memory_result, rss_mb, wait_for_port  # noqa: E402

def scratch_database(tmp):
    """Point Django at a scratch database before it is set up; returns a cleanup callable."""
    url = os.environ.get("DATABASE_URL", "").strip()
    os.environ["EVENTHUB_DATA_DIR"] = tmp
    os.environ["EVENTHUB_ALLOW_PRIVATE_TARGETS"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventhub.settings")
    if not url.startswith("postgres"):
        os.environ["DATABASE_URL"] = ""
        return "SQLite (WAL, file in a temporary folder)", lambda: None
    import psycopg

    base, _, _ = url.rpartition("/")
    name = f"eventhub_bench_deliver_{os.getpid()}"
    admin = psycopg.connect(f"{base}/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{base}/{name}"

    def drop():
        from django.db import connections

        connections.close_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return "PostgreSQL (scratch database)", drop


def prepare(urls, events):
    """Tenant, subscription, one endpoint per receiver, N events: N x M pending deliveries. Returns their bodies."""
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
        create_endpoint(tenant, {"url": url, "events": ["product.created"], "timeout_seconds": 30})
    data = {"id": "p", "name": {"en": "A product of the benchmark"}, "description": {"en": "x" * 200}, "productType": "BASIC"}
    for start in range(0, events, 500):
        record_events(tenant, [IncomingEvent("product.created", {**data, "id": f"p{i}"}) for i in range(start, min(events, start + 500))])
    return list(Delivery.objects.values_list("url", "body"))


def rearm():
    """Every delivery due again, as fresh: each round sends the same N x M deliveries."""
    from django.utils import timezone

    from subscriptions.models import Attempt, Delivery, DeliveryStatus

    Attempt.objects.all().delete()
    Delivery.objects.update(status=DeliveryStatus.PENDING, attempt_count=0, next_attempt_at=timezone.now(), lease_until=None, finished_at=None)
    # What autovacuum does to a live queue table: the re-arming above, not the worker, left every row twice over.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE subscriptions_delivery" if connection.vendor == "postgresql" else "ANALYZE")


def wire_headers(body: str) -> dict:
    """The headers the hub's worker sends with a delivery (content type, user agent, encoding and Standard Webhooks'
    webhook-id, webhook-timestamp and webhook-signature), made once: the ceiling sends the same request on the wire
    (the receivers read the same headers) without computing anything per request."""
    from subscriptions.core.signing import new_webhook_id
    from subscriptions.delivery.sender import build_request_headers

    return build_request_headers({}, new_webhook_id(), int(time.time()), body.encode(), ["whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])


async def raw_client(requests, concurrency):
    """The ceiling: the same requests (bodies and headers) to the same receivers, same concurrency, one pooled session,
    nothing signed, nothing recorded."""
    slots = asyncio.Semaphore(concurrency)
    headers = wire_headers(requests[0][1])
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def post(url, body):
            async with slots:
                async with session.post(url, data=body.encode(), headers=headers) as response:
                    await response.read()
                    assert response.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(post(url, body) for url, body in requests))
        return time.perf_counter() - started


async def hub_worker(total, concurrency, batch):
    from subscriptions.delivery.worker import DeliveryWorker

    worker = DeliveryWorker(concurrency=concurrency, batch=batch, poll_seconds=0.05)

    async def stop_when_done():
        while worker.sent_count < total:
            await asyncio.sleep(0.01)
        worker.stop()

    started = time.perf_counter()
    watcher = asyncio.create_task(stop_when_done())
    await worker.run()
    watcher.cancel()
    return time.perf_counter() - started


@contextlib.contextmanager
def receivers_and_store(name, count):
    """A scratch store with Django set up on it and `count` local receivers: yields (database, receiver URLs), then
    stops the receivers and removes the store."""
    tmp = tempfile.mkdtemp(prefix=f"eventhub-bench-{name}-")
    database, cleanup = scratch_database(tmp)
    ports = [free_port() for _ in range(count)]
    receivers = [subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)]) for port in ports]
    try:
        for port in ports:
            wait_for_port(port)
        import django

        django.setup()
        yield database, [f"http://127.0.0.1:{port}/hook" for port in ports]
    finally:
        for proc in receivers:
            proc.terminate()
        for proc in receivers:
            proc.wait(10)
        cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2500)
    parser.add_argument("--receivers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-factor", type=int, default=10,
                        help="then run the worker over the deliveries this many times in all, and compare this process' "
                             "resident memory with after the first time (1: no memory run)")
    args = parser.parse_args()

    with receivers_and_store("deliver", args.receivers) as (database, urls):
        from subscriptions.models import Delivery, DeliveryStatus

        requests = prepare(urls, args.events)
        from eventhub.heap import freeze_startup_objects

        freeze_startup_objects()  # as `manage.py deliver` does at start (the ceiling runs after it too)
        total = len(requests)
        raw_seconds = hub_seconds = float("inf")
        cpu = {}  # of each one's best round: µs of CPU per delivery of this process, PostgreSQL and the rest (receivers)
        for round_number in range(max(1, args.rounds)):
            rearm()
            started = machine_cpu()
            seconds = asyncio.run(raw_client(requests, args.concurrency))
            if seconds < raw_seconds:
                raw_seconds, cpu["raw aiohttp"] = seconds, cpu_per_item(started, machine_cpu(), total)
            profiler = Profiler("deliver", os.getpid()) if round_number == max(1, args.rounds) - 1 else None
            started = machine_cpu()
            seconds = asyncio.run(hub_worker(total, args.concurrency, args.batch))
            if seconds < hub_seconds:
                hub_seconds, cpu["hub worker"] = seconds, cpu_per_item(started, machine_cpu(), total)
            if profiler is not None:
                profiler.finish(f"one DeliveryWorker (event loop + database thread) at {total / seconds:.0f} deliveries/s")
            succeeded = Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count()
            assert succeeded == total, f"only {succeeded} of {total} deliveries succeeded"
            if round_number == 0:
                first_rss = rss_mb()
        memory = None
        if args.memory_factor > 1:  # the worker alone, until it has run memory_factor rounds in all
            for _ in range(args.memory_factor - max(1, args.rounds)):
                rearm()
                asyncio.run(hub_worker(total, args.concurrency, args.batch))
            memory = memory_result(first_rss, rss_mb(), args.memory_factor)

    hub_rate, raw_rate = total / hub_seconds, total / raw_seconds
    ratio = hub_rate / raw_rate
    print(f"database:    {database}")
    print(f"deliveries:  {total} ({args.events} events x {args.receivers} receivers), concurrency {args.concurrency}, batch {args.batch}, best of {args.rounds} rounds")
    print(f"hub worker:  {hub_rate:8.0f} deliveries/s  ({hub_seconds:.2f} s: claim, sign, send, record attempt)")
    print(f"raw aiohttp: {raw_rate:8.0f} requests/s    ({raw_seconds:.2f} s: same bodies, same receivers, nothing recorded)")
    print(f"ratio:       {ratio:.2f} (target >= 0.5)")
    print("CPU per delivery (µs, the whole machine's processes during each one's best round; the receivers are 'other'):")
    for name, split in cpu.items():
        print(f"  {name + ':':<13} {cpu_line(split)}")
    if memory:
        print(f"memory:      {memory['first_mb']:.0f} MiB after the first worker round, {memory['last_mb']:.0f} MiB after "
              f"{args.memory_factor} x {total} deliveries ({memory['growth_pct']:+.1f}%)")
    result = {
        "name": "deliver", "figure": round(hub_rate, 1), "unit": "deliveries/s", "ceiling": round(raw_rate, 1),
        "ratio": round(ratio, 3), "target": 0.5, "target_met": ratio >= 0.5, "database": database, "memory": memory,
        "cpu_us_per_delivery": cpu,
    }
    if ratio < 0.5:
        hub_cpu, raw_cpu = cpu.get("hub worker", {}), cpu.get("raw aiohttp", {})
        result["note"] = (f"{1e6 / hub_rate:.0f} µs per delivery against {1e6 / raw_rate:.0f} µs for the bare client: claim, sign and "
                          "record (two statements and one commit per batch on PostgreSQL) share the process with the sends "
                          f"(CPU per delivery: the worker's process {hub_cpu.get('this process', 0):.0f} µs and PostgreSQL "
                          f"{hub_cpu.get('PostgreSQL', 0):.0f} µs, the bare client's {raw_cpu.get('this process', 0):.0f} µs); "
                          "see bench/profiles/README.md")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()

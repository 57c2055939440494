"""Scaling on PostgreSQL: 1, 2 and 4 `manage.py dispatch` and `manage.py deliver` processes, and the hot path as the
configuration and the log grow (10x more endpoints, 10x more stored deliveries).

Processes. Dispatch: N entrecode-style messages are published to a fresh exchange into a fresh quorum work queue
before any dispatcher runs; K `manage.py dispatch --queue ...` processes are started, and the rate is counted from
the moment all K are consuming (the broker's consumer count) until every event is committed (events counted in
the database; each event is stored with one delivery). Deliver: D deliveries to 4 local aiohttp receivers are
stored not yet due; K `manage.py deliver` processes are started, and once all K are polling, every delivery is made
due at once; the rate is attempts over the span from the first attempt's start to the last one's.

The ceilings of the speed-ups, the bare tools in K processes on the same cores: for dispatch, K bare durable consumers
(bench/dispatch.py's: pika, json, psycopg, each message stored before its ack) on one queue; for deliver, the same
deliveries' bodies posted by K bare aiohttp client processes (nothing recorded), started together, to the same
receivers.
Beside each rate, the share of all the machine's cores busy during it (/proc/stat): a run keeping a share b busy can go
at most 1/b times as fast on the same cores, so one process's share bounds what more processes can give here.

Log growth (the hot path must not slow down as the log grows): in this process, a tenant whose E endpoints all
take the same event type, each with its own `data.storeId` filter (every event matches exactly one), records M
events in batches of 250 through record_events (ingest and dispatch both store through it: events + delivery rows
in one transaction), then a DeliveryWorker sends those M deliveries. Measured with E endpoints and S stored
deliveries (S events, S deliveries, S attempts, 40 days old: what retention prunes), then with 10 E endpoints,
then with E endpoints again and 10 S stored rows (inserted with generate_series, then VACUUM ANALYZE). Target: each figure at least 0.8 of
its base (the claim uses the partial index on pending deliveries; the log's size must not matter).

Everything lives in a scratch database on the server of DATABASE_URL (default postgres://postgres@127.0.0.1:5432),
created and dropped here, and in RabbitMQ exchanges and queues named bench.scaling.*, deleted afterwards.

    python bench/scaling.py [--messages 12000] [--deliveries 6000] [--endpoints 1000] [--stored 100000] [--events 3000]
    (or SCALING_MESSAGES, SCALING_DELIVERIES, SCALING_ENDPOINTS, SCALING_STORED, SCALING_EVENTS)
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, ScratchPostgres, busy_share, machine_ticks, postgres_base, settle, start_receivers, stop  # noqa: E402

sys.path.insert(0, str(ROOT))
AMQP_URL = os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
PROCESSES = (1, 2, 4)
BATCH = 250  # events per record_events call in the log-growth part (the dispatcher's default BATCH_SIZE)


def env_int(name, default):
    return int(os.environ.get(name, default))


def emit(result):
    print("RESULT " + json.dumps(result), flush=True)


# --- processes -------------------------------------------------------------------------------------------------


class Processes:
    """K `manage.py` children sharing this scratch database; stdout lines are collected (readiness)."""

    def __init__(self, command, count, env, args=()):
        self.procs, self.lines = [], []
        for _ in range(count):
            proc = subprocess.Popen([sys.executable, "manage.py", command, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            self.procs.append(proc)
            threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, text, count, timeout=120):
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.lines) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise SystemExit("processes did not start:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.05)

    def stop(self):
        stop(self.procs, timeout=60)


def count(cursor, sql, *params):
    cursor.execute(sql, params)
    return cursor.fetchone()[0]


def table(model):
    return model._meta.db_table


def dispatch_scaling(env, messages, pg):
    import pika

    from subscriptions.endpoints.services import create_endpoint
    from subscriptions.models import Endpoint, Event
    from subscriptions.services import SubscriptionChange, apply_subscription_change
    from subscriptions.broker.sources import create_source
    from tenants.services import create_tenant

    sys.path.insert(0, str(ROOT / "bench"))
    from dispatch import publish  # the messages of bench/dispatch.py

    suffix = uuid.uuid4().hex[:8]
    exchange, queue, dead = f"bench.scaling.{suffix}", f"bench.scaling.work.{suffix}", f"bench.scaling.dead.{suffix}"
    tenant = create_tenant("dispatch")[0]
    create_source(tenant, {"name": "ec", "exchange": exchange, "binding_keys": ["035af82b.mymodel.*.*"]})
    for key in ("entryCreated", "entryUpdated"):
        apply_subscription_change(tenant, SubscriptionChange(key, "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/bench", "events": ["entry*"]})

    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = conn.channel()
    results = []
    try:
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        channel.exchange_declare(dead, exchange_type="topic", durable=True)
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": dead})
        channel.queue_bind(queue, exchange, "035af82b.mymodel.*.*")
        with pg.cursor() as cursor:
            for k in PROCESSES:
                cursor.execute(f"TRUNCATE {table(Event)} CASCADE")
                publish(channel, exchange, messages)
                while channel.queue_declare(queue, passive=True).method.message_count < messages:
                    time.sleep(0.1)
                procs = Processes("dispatch", k, env, ["--queue", queue, "--dead-exchange", dead, "--dead-queue", dead])
                try:
                    deadline = time.monotonic() + 120
                    while channel.queue_declare(queue, passive=True).method.consumer_count < k:
                        if time.monotonic() > deadline or any(p.poll() is not None for p in procs.procs):
                            raise SystemExit("dispatchers did not start:\n" + "\n".join(procs.lines[-30:]))
                        time.sleep(0.02)
                    started, ticks = time.monotonic(), machine_ticks()
                    head = count(cursor, f"SELECT count(*) FROM {table(Event)}")
                    while (done := count(cursor, f"SELECT count(*) FROM {table(Event)}")) < messages:
                        if time.monotonic() - started > 300 or any(p.poll() is not None for p in procs.procs):
                            raise SystemExit(f"dispatch stalled at {done}/{messages}:\n" + "\n".join(procs.lines[-30:]))
                        time.sleep(0.05)
                    elapsed, busy = time.monotonic() - started, busy_share(ticks, machine_ticks())
                finally:
                    procs.stop()
                rate = (messages - head) / elapsed
                results.append((k, rate, busy))
                print(f"  dispatch x{k}: {rate:8.0f} msg/s  ({messages - head} messages in {elapsed:.2f} s after all {k} consumed; "
                      f"{head} before; machine {busy:.0%} busy)", flush=True)
        with pg.cursor() as cursor:  # what the dispatchers stored is not the deliver runs' work
            cursor.execute(f"TRUNCATE {table(Event)} CASCADE")
        Endpoint.objects.filter(tenant=tenant).delete()
    finally:
        for name in (queue, dead):
            channel.queue_delete(name)
        for name in (exchange, dead):
            channel.exchange_delete(name)
        conn.close()
    return results


def start_together(commands, go, what):
    """Start one process per command; once each has printed "ready", create the file `go` they wait for, so that
    they begin their work together. Their output stays readable (text)."""
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for command in commands]
    for proc in procs:
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"{what} did not start")
    open(go, "w").close()
    return procs


def rate_over(count, spans):
    """`count` over the span from the earliest start to the latest end of [(start, end)] (time.time() values)."""
    return count / (max(end for _, end in spans) - min(start for start, _ in spans))


# The ceiling of the dispatch rows: K bare durable consumers (bench/dispatch.py's: pika, json, psycopg, each message
# stored before its ack, no rules), all on one queue like K `manage.py dispatch` processes, started together.
BARE_DURABLE = r"""
import os, sys, time

sys.path.insert(0, sys.argv[1])
from dispatch import bare_durable_consumer

queue, prefetch, batch, dsn, go, stop = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
first, last, n = bare_durable_consumer(queue, prefetch, batch, dsn, stop=lambda: os.path.exists(stop))
print(first, last, n, flush=True)
"""


def bare_dispatch_scaling(messages, dsn, pg):
    """[(K, rate)]: `messages` stored by K bare durable consumer processes sharing one queue; rate = messages over the
    span from the first message any of them received to the last ack."""
    import pika

    from eventhub.conf import hub_setting

    sys.path.insert(0, str(ROOT / "bench"))
    from dispatch import BARE_TABLES, publish

    suffix = uuid.uuid4().hex[:8]
    exchange, queue = f"bench.scaling.bare.{suffix}", f"bench.scaling.bare.work.{suffix}"
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = conn.channel()
    results = []
    try:
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(queue, exchange, "#")
        with pg.cursor() as cursor, tempfile.TemporaryDirectory(prefix="eventhub-bench-durable-") as tmp:
            cursor.execute(BARE_TABLES)
            for k in PROCESSES:
                cursor.execute("TRUNCATE bench_bare_event, bench_bare_delivery")
                publish(channel, exchange, messages)
                while channel.queue_declare(queue, passive=True).method.message_count < messages:
                    time.sleep(0.1)
                go, halt = os.path.join(tmp, f"go-{k}"), os.path.join(tmp, f"stop-{k}")
                args = [queue, str(hub_setting("PREFETCH")), str(hub_setting("BATCH_SIZE")), dsn, go, halt]
                procs = start_together([[sys.executable, "-c", BARE_DURABLE, str(ROOT / "bench"), *args]] * k, go, "a bare durable consumer")
                deadline, ticks = time.monotonic() + 300, machine_ticks()
                while count(cursor, "SELECT count(*) FROM bench_bare_event") < messages:
                    if time.monotonic() > deadline or any(proc.poll() is not None for proc in procs):
                        raise SystemExit("the bare durable consumers stalled")
                    time.sleep(0.05)
                busy = busy_share(ticks, machine_ticks())
                open(halt, "w").close()
                spans = [proc.stdout.readline().split() for proc in procs]
                for proc in procs:
                    proc.wait(60)
                rate = rate_over(messages, [(float(first), float(last)) for first, last, n in spans if int(n)])
                results.append((k, rate, busy))
                print(f"  bare durable consumers x{k}: {rate:8.0f} msg/s  ({messages} messages, {k} processes on one queue; machine "
                      f"{busy:.0%} busy)", flush=True)
            cursor.execute("DROP TABLE bench_bare_delivery, bench_bare_event")
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        conn.close()
    return results


def deliver_scaling(env, deliveries, urls, pg):
    from subscriptions.endpoints.services import create_endpoint
    from subscriptions.models import Attempt, Delivery
    from subscriptions.pipeline.recording import IncomingEvent, record_events
    from subscriptions.services import SubscriptionChange, apply_subscription_change
    from tenants.services import create_tenant

    tenant = create_tenant("deliver")[0]
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    for url in urls:
        create_endpoint(tenant, {"url": url, "events": ["product.created"], "timeout_seconds": 30})
    events = max(1, deliveries // len(urls))
    data = {"id": "p", "name": {"en": "A product of the benchmark"}, "description": {"en": "x" * 200}, "productType": "BASIC"}
    for start in range(0, events, 500):
        record_events(tenant, [IncomingEvent("product.created", {**data, "id": f"p{i}"}) for i in range(start, min(events, start + 500))])
    total = events * len(urls)
    bare = bare_deliver_scaling(list(Delivery.objects.filter(tenant=tenant).values_list("url", "body")))
    results = []
    with pg.cursor() as cursor:
        for k in PROCESSES:
            # Fresh and not yet due: the workers start polling an empty queue; then everything becomes due at once.
            cursor.execute(f"TRUNCATE {table(Attempt)}")
            cursor.execute(f"UPDATE {table(Delivery)} SET status = 'pending', attempt_count = 0, lease_until = NULL, finished_at = NULL, "
                           "next_attempt_at = now() + interval '1 day' WHERE tenant_id = %s", (tenant.pk,))
            procs = Processes("deliver", k, env)
            try:
                procs.wait_for("deliver: concurrency", k)
                time.sleep(1.0)  # past their first (empty) claim
                cursor.execute(f"UPDATE {table(Delivery)} SET next_attempt_at = now() WHERE tenant_id = %s", (tenant.pk,))
                started, ticks = time.monotonic(), machine_ticks()
                while (done := count(cursor, f"SELECT count(*) FROM {table(Delivery)} WHERE tenant_id = %s AND status = 'succeeded'",
                                     tenant.pk)) < total:
                    if time.monotonic() - started > 300 or any(p.poll() is not None for p in procs.procs):
                        raise SystemExit(f"deliver stalled at {done}/{total}:\n" + "\n".join(procs.lines[-30:]))
                    time.sleep(0.05)
                busy = busy_share(ticks, machine_ticks())
            finally:
                procs.stop()
            cursor.execute(f"SELECT count(*), extract(epoch FROM max(a.started_at) - min(a.started_at)) FROM {table(Attempt)} a "
                           f"JOIN {table(Delivery)} d ON d.id = a.delivery_id WHERE d.tenant_id = %s", (tenant.pk,))
            attempts, span = cursor.fetchone()
            rate = (attempts - 1) / float(span)
            results.append((k, rate, busy))
            print(f"  deliver  x{k}: {rate:8.0f} deliveries/s  ({attempts} attempts, first to last send {float(span):.2f} s; machine "
                  f"{busy:.0%} busy)", flush=True)
    return results, total, bare


# The ceiling of the deliver rows: K bare aiohttp clients (the tool `deliver` sends with; nothing recorded, no database),
# each posting its share of the same bodies to the same receivers with the worker's concurrency, all started together.
# On a machine with few cores the receivers and the clients share them: this is how far K processes of the bare tool
# itself get, the speed-up `deliver` can be measured against.
BARE_CLIENT = r"""
import asyncio, json, os, sys, time

sys.path.insert(0, sys.argv[3])
from deliver import raw_client  # the ceiling of bench/deliver.py, the same bare client

requests = [tuple(pair) for pair in json.load(open(sys.argv[1]))]
go = sys.argv[2]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
started = time.time()
asyncio.run(raw_client(requests, 50))
print(started, time.time(), flush=True)
"""


def bare_deliver_scaling(requests):
    """[(K, rate)]: the same requests split among K bare aiohttp client processes; rate = all requests over the span
    from the first client's start to the last one's end."""
    results = []
    with tempfile.TemporaryDirectory(prefix="eventhub-bench-bare-") as tmp:
        for k in PROCESSES:
            go = os.path.join(tmp, f"go-{k}")
            commands = []
            for i in range(k):
                share = os.path.join(tmp, f"share-{k}-{i}.json")
                with open(share, "w") as out:
                    json.dump(requests[i::k], out)
                commands.append([sys.executable, "-c", BARE_CLIENT, share, go, str(ROOT / "bench")])
            procs = start_together(commands, go, "a bare client")
            ticks = machine_ticks()
            spans = [tuple(map(float, proc.stdout.readline().split())) for proc in procs]
            busy = busy_share(ticks, machine_ticks())
            for proc in procs:
                proc.wait(60)
            rate = rate_over(len(requests), spans)
            results.append((k, rate, busy))
            print(f"  bare aiohttp x{k}: {rate:8.0f} requests/s  ({len(requests)} requests split among {k} client processes; machine "
                  f"{busy:.0%} busy)", flush=True)
    return results


# --- log growth (in this process) ------------------------------------------------------------------------------


def log_tenant(urls, endpoints):
    from subscriptions.services import SubscriptionChange, apply_subscription_change
    from tenants.services import create_tenant

    tenant = create_tenant("log")[0]
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    add_endpoints(tenant, urls, 0, endpoints)
    return tenant


def add_endpoints(tenant, urls, first, last):
    """Endpoints first..last-1 on product.created, endpoint i filtering data.storeId == store-i, each with a secret."""
    from django.db import transaction
    from django.utils import timezone

    from subscriptions.models import Endpoint, EndpointSecret
    from subscriptions.core.signing import generate_secret

    now = timezone.now()
    with transaction.atomic():
        made = Endpoint.objects.bulk_create(
            [Endpoint(tenant=tenant, url=f"{urls[i % len(urls)]}?endpoint={i}", events=["product.created"],
                      event_filter={"data.storeId": f"store-{i}"}, timeout_seconds=30, created_at=now, modified_at=now)
             for i in range(first, last)],
            batch_size=2000,
        )
        EndpointSecret.objects.bulk_create([EndpointSecret(endpoint=e, secret=generate_secret(), created_at=now) for e in made], batch_size=2000)


def store_old_log(tenant, rows, pg):
    """`rows` more events, deliveries (succeeded) and attempts, 40 days old, written by the server (generate_series)."""
    from subscriptions.models import Attempt, Delivery, Endpoint, Event

    started = time.monotonic()
    endpoint = Endpoint.objects.filter(tenant=tenant).order_by("created_at").first()
    body = json.dumps({"id": "old", "type": "product.created", "tenant": tenant.name, "data": {"id": "p", "storeId": "store-0", "x": "x" * 200}})
    with pg.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table(Event)}")
        low = cursor.fetchone()[0]
        step = 100_000
        for start in range(0, rows, step):
            n = min(step, rows - start)
            cursor.execute(
                f"INSERT INTO {table(Event)} (tenant_id, event_id, type, timestamp, data, origin, source_id, routing_key, properties, received_at) "
                "SELECT %s, 'old-' || gen_random_uuid(), 'product.created', now() - interval '40 days', %s::jsonb, 'http', NULL, '', '{}'::jsonb, "
                "now() - interval '40 days' + g * interval '1 ms' FROM generate_series(1, %s) g",
                (tenant.pk, json.dumps({"id": "p", "storeId": "store-0", "x": "x" * 200}), n),
            )
        cursor.execute(
            f"INSERT INTO {table(Delivery)} (tenant_id, event_id, endpoint_id, url, event_type, body, content_type, status, attempt_count, "
            "next_attempt_at, lease_until, last_status_code, last_error, created_at, finished_at, webhook_id) "
            f"SELECT tenant_id, id, %s, %s, type, %s, 'application/json', 'succeeded', 1, NULL, NULL, 200, '', received_at, received_at, "
            f"'msg_' || replace(gen_random_uuid()::text, '-', '') FROM {table(Event)} WHERE id > %s",
            (endpoint.pk, endpoint.url, body, low),
        )
        cursor.execute(
            f"INSERT INTO {table(Attempt)} (delivery_id, started_at, duration_ms, request_headers, status_code, response_headers, response_body, error) "
            f"SELECT d.id, d.created_at, 12.5, '{{}}'::jsonb, 200, '{{}}'::jsonb, 'ok', '' FROM {table(Delivery)} d "
            f"JOIN {table(Event)} e ON e.id = d.event_id WHERE e.id > %s",
            (low,),
        )
        for model in (Event, Delivery, Attempt):  # as autovacuum would, but now, not during the measurement
            cursor.execute(f"VACUUM ANALYZE {table(model)}")
    return time.monotonic() - started


def hot_path(tenant, events, endpoints, rounds=3):
    """Best of `rounds`: events/s through record_events (batches of 250) and deliveries/s of a DeliveryWorker, each
    begun on a quiet machine (a large stored log leaves PostgreSQL a checkpoint and autovacuum to do)."""
    from subscriptions.pipeline.recording import IncomingEvent, record_events
    from subscriptions.delivery.worker import DeliveryWorker

    best_record = best_deliver = 0.0
    for _ in range(rounds):
        settle()
        tag = uuid.uuid4().hex[:8]
        items = [IncomingEvent("product.created", {"id": f"p{i}", "storeId": f"store-{i % endpoints}", "price": i % 100,
                                                  "name": {"en": "A product"}, "description": {"en": "x" * 200}}, id=f"{tag}-{i}")
                 for i in range(events)]
        record_events(tenant, items[:1])  # the routing index is compiled here, not in the timing
        started = time.perf_counter()
        made = 0
        for start in range(1, events, BATCH):
            made += sum(r.deliveries for r in record_events(tenant, items[start:start + BATCH]))
        best_record = max(best_record, (events - 1) / (time.perf_counter() - started))
        assert made == events - 1, f"{made} deliveries for {events - 1} events: each event must match one endpoint"

        worker = DeliveryWorker(concurrency=50, batch=100, poll_seconds=0.05, allow_private=True)

        async def run():
            async def stop_when_done():
                while worker.sent_count < events:
                    await asyncio.sleep(0.01)
                worker.stop()

            watcher = asyncio.create_task(stop_when_done())
            began = time.perf_counter()
            await worker.run()
            watcher.cancel()
            return time.perf_counter() - began

        best_deliver = max(best_deliver, events / asyncio.run(run()))
    return best_record, best_deliver, stamp_ms(tenant)


def stamp_ms(tenant, calls=30):
    """What record_events pays per call to check that the tenant's routing index is current (one key lookup)."""
    from subscriptions.pipeline.routing_version import routing_version

    started = time.perf_counter()
    for _ in range(calls):
        routing_version(tenant)
    return (time.perf_counter() - started) / calls * 1000


def claim_plan():
    """The plan of the worker's own claim statement (delivery/postgres.py; EXPLAIN without ANALYZE changes nothing)."""
    from django.db import connection
    from django.utils import timezone

    from subscriptions.delivery.claims import CLAIM_MESSAGES
    from subscriptions.delivery.postgres import CLAIM_SQL

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + CLAIM_SQL.format(only=""), {"now": timezone.now(), "limit": 100, "margin": 30, **CLAIM_MESSAGES})
        plan = [row[0] for row in cursor.fetchall()]
    return " / ".join(line.strip(" ->") for line in plan if "delivery_due" in line or "Index Cond: (next_attempt_at" in line)


def log_growth(urls, endpoints, stored, events, pg):
    from subscriptions.models import Endpoint

    tenant = log_tenant(urls, endpoints)
    seconds = store_old_log(tenant, stored, pg)
    print(f"  stored {stored} old events + deliveries + attempts in {seconds:.1f} s", flush=True)
    rows = []
    hot_path(tenant, max(300, events // 3), endpoints, rounds=1)  # warm up: connections, caches, the worker's imports
    base = hot_path(tenant, events, endpoints)
    rows.append((f"base: {endpoints:,} endpoints, {stored:,} stored deliveries", base))
    add_endpoints(tenant, urls, endpoints, endpoints * 10)
    rows.append((f"10x endpoints: {endpoints * 10:,}", hot_path(tenant, events, endpoints * 10)))
    from django.utils import timezone

    # Back to the base's endpoints (removed, not disabled: the routing check reads disabled rows too).
    keep = {f"store-{i}" for i in range(endpoints)}
    extra = [pk for pk, spec in Endpoint.objects.filter(tenant=tenant).values_list("pk", "event_filter") if spec["data.storeId"] not in keep]
    Endpoint.objects.filter(pk__in=extra).delete()
    Endpoint.objects.filter(tenant=tenant).update(modified_at=timezone.now())
    seconds = store_old_log(tenant, stored * 9, pg)
    print(f"  stored {stored * 9} more in {seconds:.1f} s", flush=True)
    rows.append((f"10x stored deliveries: {stored * 10:,}", hot_path(tenant, events, endpoints)))
    plan = claim_plan()
    return rows, plan


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=env_int("SCALING_MESSAGES", 12_000), help="broker messages per dispatch run")
    parser.add_argument("--deliveries", type=int, default=env_int("SCALING_DELIVERIES", 6_000), help="deliveries per deliver run")
    parser.add_argument("--endpoints", type=int, default=env_int("SCALING_ENDPOINTS", 1_000), help="endpoints of the log-growth base")
    parser.add_argument("--stored", type=int, default=env_int("SCALING_STORED", 100_000), help="stored deliveries of the log-growth base")
    parser.add_argument("--events", type=int, default=env_int("SCALING_EVENTS", 3_000), help="events per log-growth measurement")
    parser.add_argument("--receivers", type=int, default=4)
    args = parser.parse_args(argv)

    total_started = time.monotonic()
    base = postgres_base() or "postgres://postgres@127.0.0.1:5432"
    scratch = ScratchPostgres(base, f"eventhub_bench_scaling_{os.getpid()}")
    data_dir = tempfile.mkdtemp(prefix="eventhub-bench-scaling-")
    os.environ.update({"DATABASE_URL": scratch.url, "EVENTHUB_DATA_DIR": data_dir, "EVENTHUB_ALLOW_PRIVATE_TARGETS": "1",
                       "AMQP_URL": AMQP_URL, "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventhub.settings")
    child_env = {**os.environ, "LOG_LEVEL": "INFO"}
    urls, receivers = start_receivers(args.receivers)
    try:
        import django

        django.setup()
        import psycopg
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        pg = psycopg.connect(scratch.url, autocommit=True)
        cores = os.cpu_count()
        print(f"scaling on PostgreSQL ({cores} cores; the processes, PostgreSQL, RabbitMQ and the receivers share them)", flush=True)

        dispatch = dispatch_scaling(child_env, args.messages, pg)
        bare_dispatch = bare_dispatch_scaling(args.messages, scratch.url, pg)
        for row, rates in (("dispatch", dispatch), ("bare durable consumers (dispatch's ceiling)", bare_dispatch)):
            one = rates[0][1]
            for k, rate, busy in rates:
                emit({"name": "scaling", "table": "processes", "row": row, "processes": k, "figure": round(rate, 1), "unit": "msg/s",
                      "speedup": round(rate / one, 2), "busy": round(busy, 3), "size": f"{args.messages} messages"})
        deliver, total, bare = deliver_scaling(child_env, args.deliveries, urls, pg)
        for row, rates, unit in (("deliver", deliver, "deliveries/s"), ("bare aiohttp clients (deliver's ceiling)", bare, "requests/s")):
            one = rates[0][1]
            for k, rate, busy in rates:
                emit({"name": "scaling", "table": "processes", "row": row, "processes": k, "figure": round(rate, 1), "unit": unit,
                      "speedup": round(rate / one, 2), "busy": round(busy, 3), "size": f"{total} deliveries to {args.receivers} receivers"})

        rows, plan = log_growth(urls, args.endpoints, args.stored, args.events, pg)
        (_, (record0, deliver0, _)) = rows[0]
        for label, (record, sent, stamp) in rows:
            print(f"  {label:<44} record_events {record:8.0f} events/s ({record / record0:4.2f})   deliver {sent:8.0f} deliveries/s "
                  f"({sent / deliver0:4.2f})   routing check {stamp:.2f} ms per record_events call", flush=True)
            for row, figure, base_figure, unit in (("record_events (ingest and dispatch store)", record, record0, "events/s"),
                                                   ("deliver (claim, send, record)", sent, deliver0, "deliveries/s")):
                ratio = figure / base_figure
                emit({"name": "scaling", "table": "log", "row": row, "condition": label, "figure": round(figure, 1), "unit": unit,
                      "ratio": round(ratio, 2), "target": ">= 0.8 of base", "target_met": ratio >= 0.8, "stamp_ms": round(stamp, 2)})
        print(f"  claim query plan with {args.stored * 10:,} stored deliveries: {plan}")
        emit({"name": "scaling", "table": "plan", "plan": plan})
        pg.close()
    finally:
        stop(receivers)
        from django.db import connections

        connections.close_all()
        scratch.close()
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"scaling took {time.monotonic() - total_started:.0f} s")


if __name__ == "__main__":
    main()

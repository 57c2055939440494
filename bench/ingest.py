"""Ingest API throughput: POST /webhook/{tenant}/events requests/s on the real hub, against a bare ASGI handler.

Both servers are `python -m uvicorn MODULE:app` (one process, the same flags: no access log, no lifespan) on this
machine, loaded by the same aiohttp client (same concurrency, same bodies, same duration). The bare handler reads the
body, parses the JSON and answers 202: the ceiling of an ASGI Python service on this machine. The hub
(eventhub.asgi, as `manage.py serve --no-worker` serves it) authenticates the token, checks the scope, validates,
and stores each event with its deliveries before answering: SQLite in a temporary folder, or, when DATABASE_URL
names PostgreSQL, a scratch database on that server (created and dropped here).
BENCH_PROFILE=1 writes a py-spy profile of the hub process to bench/profiles/ingest.txt.

    python bench/ingest.py [--seconds 10] [--concurrency 32] [--batch 1]
"""

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Profiler, ScratchPostgres, cpu_per_item, machine_cpu, memory_result, postgres_base, rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEQUENCE = itertools.count()
BARE_APP = textwrap.dedent(
    """
    import json

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        json.loads(body)
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'[{"id":"x","created":true,"deliveries":0}]'})
    """
)

STORED = "from subscriptions.models import Event; print(Event.objects.count())"
SUBSCRIBE = (
    "from subscriptions.endpoints.services import create_endpoint; "
    "from subscriptions.services import SubscriptionChange, apply_subscription_change; "
    "from tenants.models import Tenant; t = Tenant.objects.get(name='bench'); "
    "apply_subscription_change(t, SubscriptionChange('product.created', 'SUBSCRIBE')); "
    "create_endpoint(t, {'url': 'https://hooks.example.com/bench', 'events': ['product.created']})"
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


async def load(url, headers, bodies, seconds, concurrency):
    """(requests/s answered 202, errors, [latency of each 202 in seconds]). Each body's "__N__" becomes a number
    no other request of the process sends, so every event id is new and the hub does the whole work each time."""
    done = errors = 0
    latencies = []
    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(n):
            nonlocal done, errors
            i = n
            while time.monotonic() < stop:
                body = bodies[i % len(bodies)].replace(b"__N__", str(next(SEQUENCE)).encode())
                sent = time.perf_counter()
                async with session.post(url, data=body) as response:
                    await response.read()
                    if response.status == 202:
                        done += 1
                        latencies.append(time.perf_counter() - sent)
                    else:
                        errors += 1
                i += concurrency

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.monotonic() - started
    return done / elapsed, errors, latencies


def percentile(latencies, q):
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def p99(latencies):
    return percentile(latencies, 0.99)


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1, help="events per request")
    parser.add_argument("--memory-factor", type=int, default=10,
                        help="after the measurement, keep the load on until the hub has run this many times as long, and "
                             "compare its resident memory then with after the measurement (1: no memory run)")
    args = parser.parse_args(argv)

    data_dir = tempfile.mkdtemp(prefix="eventhub-bench-ingest-")
    env = {**os.environ, "EVENTHUB_DATA_DIR": data_dir, "LOG_LEVEL": "WARNING"}
    env.pop("AMQP_URL", None)
    scratch = None
    if postgres_base():
        scratch = ScratchPostgres(postgres_base(), f"eventhub_bench_ingest_{os.getpid()}")
        env["DATABASE_URL"] = scratch.url
    else:
        env["DATABASE_URL"] = ""  # SQLite under EVENTHUB_DATA_DIR
    # Measure the pipeline, not the rate limiter.
    env["EVENTHUB_RATE_LIMITS"] = "off"
    procs = []
    try:
        manage(env, "migrate", "--verbosity", "0")
        manage(env, "create_tenant", "bench")
        token = manage(env, "issue_token", "bench", "--scope", "webhook.event_publish")
        # One subscribed type and one endpoint for it: every event is stored with one delivery (the whole outbox).
        manage(env, "shell", "-c", SUBSCRIBE)
        bodies = []
        for i in range(1000):
            events = [{"type": "product.created", "id": f"bench-{i}-{j}-__N__-{time.time_ns()}", "data": {"id": f"p{i}", "code": "C1", "name": {"en": "Shoe"}}}
                      for j in range(args.batch)]
            bodies.append(json.dumps(events if args.batch > 1 else events[0]).encode())
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        hub_port, bare_port = free_port(), free_port()
        flags = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log", "--lifespan", "off"]
        hub = subprocess.Popen([sys.executable, "-m", "uvicorn", "eventhub.asgi:application", "--port", str(hub_port), *flags], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(hub)
        bare_file = Path(data_dir) / "bare_app.py"
        bare_file.write_text(BARE_APP)
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port), *flags], cwd=data_dir, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(bare)
        wait_for(hub_port, hub)
        wait_for(bare_port, bare)

        warm_answered = len(asyncio.run(load(f"http://127.0.0.1:{hub_port}/webhook/bench/events", headers, bodies[:50], 1, 4))[2])  # warm up
        # Every id must be new for the hub to do the full work: unique ids per run come from the bodies above.
        profiler = Profiler("ingest", hub.pid)
        started = machine_cpu()
        hub_rate, hub_errors, hub_latencies = asyncio.run(load(f"http://127.0.0.1:{hub_port}/webhook/bench/events", headers, bodies, args.seconds, args.concurrency))
        cpu = cpu_per_item(started, machine_cpu(), max(1, len(hub_latencies)))
        profiler.finish(f"hub POST /webhook/bench/events at {hub_rate:.0f} req/s, concurrency {args.concurrency}")
        bare_rate, bare_errors, bare_latencies = asyncio.run(load(f"http://127.0.0.1:{bare_port}/", headers, bodies, args.seconds, args.concurrency))
        answered = len(hub_latencies) + warm_answered
        memory = None
        if args.memory_factor > 1:
            first = rss_mb(hub.pid)
            more = asyncio.run(load(f"http://127.0.0.1:{hub_port}/webhook/bench/events", headers, bodies,
                                    args.seconds * (args.memory_factor - 1), args.concurrency))
            memory = memory_result(first, rss_mb(hub.pid), args.memory_factor)
            answered += len(more[2])
            hub_errors += more[1]
        stored = int(manage(env, "shell", "-c", STORED).split()[-1])
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
        if scratch is not None:
            scratch.close()

    store = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    ratio = hub_rate / bare_rate if bare_rate else 0.0
    hub_p99, bare_p99 = p99(hub_latencies) * 1000, p99(bare_latencies) * 1000
    met = ratio >= 0.25 and hub_p99 <= 100 and hub_errors == 0 and stored == answered * args.batch
    print(f"ingest: {args.batch} event(s) per request, concurrency {args.concurrency}, {args.seconds:.0f} s each, store {store}")
    print(f"  hub  POST /webhook/bench/events   {hub_rate:8.0f} req/s  ({hub_rate * args.batch:8.0f} events/s, each stored with 1 delivery)  "
          f"p99 {hub_p99:6.1f} ms  errors {hub_errors}")
    print(f"  bare ASGI handler (uvicorn)       {bare_rate:8.0f} req/s  p99 {bare_p99:6.1f} ms  errors {bare_errors}")
    print(f"  hub latency: p50 {percentile(hub_latencies, 0.5) * 1000:.1f} ms, p90 {percentile(hub_latencies, 0.9) * 1000:.1f} ms, "
          f"p99 {hub_p99:.1f} ms, max {max(hub_latencies, default=float('nan')) * 1000:.1f} ms")
    print(f"  ratio hub / bare: {ratio:.2f}   target >= 0.25 with p99 <= 100 ms: {'met' if met else 'NOT met'}")
    print(f"  CPU per hub request (µs, the whole machine): the hub's server and the rest {cpu['other']:.0f}, PostgreSQL "
          f"{cpu['PostgreSQL']:.0f}, the load client (this process) {cpu['this process']:.0f}")
    print(f"  events stored {stored}, answered 202 {answered * args.batch} (each 202 means committed)")
    if memory:
        print(f"  hub resident memory: {memory['first_mb']:.0f} MiB after {args.seconds:.0f} s, {memory['last_mb']:.0f} MiB after "
              f"{args.seconds * args.memory_factor:.0f} s ({memory['growth_pct']:+.1f}%)")
    result = {"name": "ingest", "figure": hub_rate, "unit": f"req/s (p99 {hub_p99:.0f} ms)", "ceiling": bare_rate,
              "ceiling_unit": "req/s (bare ASGI)", "ratio": round(ratio, 4), "target": ">= 0.25, p99 <= 100 ms", "target_met": met,
              "errors": hub_errors, "p99_ms": round(hub_p99, 1), "memory": memory, "cpu_us_per_request": cpu,
              "note": f"p99 {hub_p99:.0f} ms; see bench/profiles/README.md"}
    print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    main()

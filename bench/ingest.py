"""Ingest API throughput: POST /webhook/{tenant}/events requests/s on the real hub, against a bare ASGI handler.

Both servers are uvicorn (one process, same flags) on this machine, loaded by the same aiohttp client (same
concurrency, same bodies, same duration). The bare handler reads the body, parses the JSON and answers 202: the
ceiling of an ASGI Python service on this machine. The hub authenticates the token, checks the scope, validates,
and stores each event (SQLite, or PostgreSQL with DATABASE_URL) before answering.

    python bench/ingest.py [--seconds 10] [--concurrency 32] [--batch 1]
"""

import argparse
import asyncio
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

ROOT = Path(__file__).resolve().parent.parent
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
    done = errors = 0
    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(n):
            nonlocal done, errors
            i = n
            while time.monotonic() < stop:
                async with session.post(url, data=bodies[i % len(bodies)]) as response:
                    await response.read()
                    if response.status == 202:
                        done += 1
                    else:
                        errors += 1
                i += concurrency

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.monotonic() - started
    return done / elapsed, errors


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1, help="events per request")
    args = parser.parse_args(argv)

    data_dir = tempfile.mkdtemp(prefix="eventhub-bench-ingest-")
    env = {**os.environ, "EVENTHUB_DATA_DIR": data_dir, "LOG_LEVEL": "WARNING"}
    env.pop("AMQP_URL", None)
    # Measure the pipeline, not the rate limiter.
    env["EVENTHUB_RATE_LIMITS"] = "off"
    procs = []
    try:
        manage(env, "migrate", "--verbosity", "0")
        manage(env, "create_tenant", "bench")
        token = manage(env, "issue_token", "bench", "--scope", "webhook.event_publish")
        bodies = []
        for i in range(1000):
            events = [{"type": "product.created", "id": f"bench-{i}-{j}-{time.time_ns()}", "data": {"id": f"p{i}", "code": "C1", "name": {"en": "Shoe"}}}
                      for j in range(args.batch)]
            bodies.append(json.dumps(events if args.batch > 1 else events[0]).encode())
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        hub_port, bare_port = free_port(), free_port()
        hub = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(hub_port), "--no-worker"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(hub)
        bare_file = Path(data_dir) / "bare_app.py"
        bare_file.write_text(BARE_APP)
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port), "--log-level", "warning",
                                 "--no-access-log", "--lifespan", "off"], cwd=data_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(bare)
        wait_for(hub_port, hub)
        wait_for(bare_port, bare)

        asyncio.run(load(f"http://127.0.0.1:{hub_port}/webhook/bench/events", headers, bodies[:50], 1, 4))  # warm up
        # Every id must be new for the hub to do the full work: unique ids per run come from the bodies above.
        hub_rate, hub_errors = asyncio.run(load(f"http://127.0.0.1:{hub_port}/webhook/bench/events", headers, bodies, args.seconds, args.concurrency))
        bare_rate, bare_errors = asyncio.run(load(f"http://127.0.0.1:{bare_port}/", headers, bodies, args.seconds, args.concurrency))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)

    store = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    ratio = hub_rate / bare_rate if bare_rate else 0.0
    print(f"ingest: {args.batch} event(s) per request, concurrency {args.concurrency}, {args.seconds:.0f} s each, store {store}")
    print(f"  hub  POST /webhook/bench/events   {hub_rate:8.0f} req/s  ({hub_rate * args.batch:8.0f} events/s)  errors {hub_errors}")
    print(f"  bare ASGI handler (uvicorn)       {bare_rate:8.0f} req/s  errors {bare_errors}")
    print(f"  ratio hub / bare: {ratio:.2f}")
    result = {"name": "ingest", "figure": hub_rate, "unit": "req/s", "ceiling": bare_rate, "ceiling_unit": "req/s (bare ASGI)",
              "ratio": ratio, "target": "no target set; watch the ratio", "target_met": hub_errors == 0}
    print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""`manage.py deliver` as real processes: kill -9 mid-send loses nothing (at-least-once), and two workers on
PostgreSQL never send the same delivery at the same time."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "tests.subscriptions.worker_settings"


def manage(env, *args, **kwargs):
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env, **kwargs)


def run_manage(env, *args):
    # A bound for a hung command, not a speed limit: `migrate` alone took over 120 s on a loaded 2-core machine.
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)


def wait_until(condition, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


SEED = """
from subscriptions.endpoints.services import create_endpoint
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.services import create_tenant
tenant = create_tenant("acme")[0]
apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
create_endpoint(tenant, {"url": "%s", "events": ["product.created"], "timeout_seconds": 2})
record_events(tenant, [IncomingEvent("product.created", {"id": str(i)}) for i in range(%d)])
"""


@pytest.mark.timeout(1200)  # two manage.py commands and two workers start: minutes on a busy machine
def test_kill_9_mid_send_loses_no_delivery(tmp_path, receiver):
    """A SQLite file database shared with the worker processes; the receiver stalls until the worker is killed."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "EVENTHUB_DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    count = 12
    run_manage(env, "migrate")
    run_manage(env, "shell", "-c", SEED % (receiver.url(), count))
    database = tmp_path / "eventhub.sqlite3"

    def statuses():
        with sqlite3.connect(database) as db:
            return dict(db.execute("select status, count(*) from subscriptions_delivery group by status").fetchall())

    stalled = True
    receiver.script = lambda r: (200, {}, "ok", 30 if stalled else 0)
    worker = manage(env, "deliver", "--concurrency", "4", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert receiver.wait_for(4, timeout=120), "the worker never sent anything"  # a busy machine starts Django slowly
        worker.send_signal(signal.SIGKILL)  # mid-send: four requests are in flight
        worker.wait(10)
        assert statuses() == {"pending": count}
        stalled = False
        worker = manage(env, "deliver", "--concurrency", "4", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(lambda: statuses() == {"succeeded": count}, timeout=60), statuses()
    finally:
        worker.kill()
        worker.wait(10)
    with sqlite3.connect(database) as db:
        ids = {webhook_id for (webhook_id,) in db.execute("select webhook_id from subscriptions_delivery")}
    seen = [r.webhook_id for r in receiver.received]
    assert set(seen) == ids  # every delivery reached the receiver: dupes allowed, losses not
    assert len(seen) >= count + 4  # the four killed mid-send were sent again under the same webhook-id


@pytest.mark.postgres
@pytest.mark.timeout(600)  # two workers start before the events are recorded: minutes on a busy machine
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgresql_never_send_the_same_delivery_at_once(tenant, receiver):
    count = 80
    receiver.script = lambda r: (200, {}, "ok", 0.05)
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": receiver.url(), "events": ["product.created"], "timeout_seconds": 5})
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": url}
    workers = [manage(env, "deliver", "--concurrency", "8", "--batch", "4", stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        # Both running before there is anything to send: on a busy machine one worker could otherwise send all 80
        # while the other still starts, and the test would prove nothing about two workers (its SIGTERM, too early,
        # ended that one uncleanly).
        started = [worker.stdout.readline() for worker in workers]  # each writes it once SIGTERM stops it cleanly
        assert all(line.startswith("deliver: concurrency 8") for line in started), started
        record_events(tenant, [IncomingEvent("product.created", {"id": str(i)}) for i in range(count)])
        done = wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == count, timeout=60)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)  # a clean stop: finish what is in flight, then exit 0
        outputs = [worker.communicate(timeout=20)[0] for worker in workers]
    assert done and all(w.returncode == 0 for w in workers), outputs
    assert receiver.max_in_flight_per_id == 1
    seen = [r.webhook_id for r in receiver.received]
    assert len(seen) == count and len(set(seen)) == count  # each sent exactly once: no crash, no double claim
    assert all("stopped after" in out for out in outputs)


@pytest.mark.postgres
@pytest.mark.timeout(600)  # a worker starts: minutes on a busy machine
@pytest.mark.django_db(transaction=True)
def test_a_worker_stopped_the_moment_it_says_it_runs_stops_cleanly():
    """The start-up line is the signal a supervisor waits for: from then on, SIGTERM is a clean stop (exit 0)."""
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": url}
    worker = manage(env, "deliver", stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().startswith("deliver: concurrency")
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=60)[0]
    finally:
        worker.kill()
    assert (worker.returncode, output) == (0, "deliver: stopped after 0 attempts\n")


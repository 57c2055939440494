"""The embedded default: a worker thread in the serving process, woken at once by events recorded in-process."""

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.delivery.worker import start_in_background
from tests.subscriptions.broker_helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_the_background_worker_is_woken_by_new_events_instead_of_waiting_for_its_poll(tenant, receiver, settings, monkeypatch):
    from subscriptions.delivery import worker as worker_module

    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "DELIVERY_POLL_SECONDS": 3600}
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": receiver.url(), "events": ["product.created"]})
    claims, real_claim = [], worker_module.claim_due
    def counted_claim(*args, **kwargs):
        # Counted when it returns: the worker has looked and found nothing.
        jobs = real_claim(*args, **kwargs)
        claims.append(1)
        return jobs

    monkeypatch.setattr(worker_module, "claim_due", counted_claim)
    worker = start_in_background()
    try:
        wait_until(lambda: claims, what="the worker's first claim")  # found nothing: it now sleeps for an hour unless woken
        record_events(tenant, [IncomingEvent("product.created", {"id": "p1"})])
        assert receiver.wait_for(1, timeout=60), "not woken: it waited for its hourly poll"
        wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists(), what="the success recorded")
    finally:
        worker.stop()
        worker.thread.join(10)
    assert not worker.thread.is_alive()


def test_serve_demo_alone_delivers_webhooks_to_a_local_receiver(tmp_path, receiver):
    """`manage.py serve --demo`: one process; an event published over HTTP reaches a receiver on localhost."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "AMQP_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env["EVENTHUB_DATA_DIR"] = str(tmp_path)
    # Port 0: the server binds a free port itself and uvicorn logs which (no race for a port picked beforehand).
    proc = subprocess.Popen([sys.executable, "manage.py", "serve", "--demo", "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        token, port, lines = None, None, []
        while token is None or port is None:
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            if match := re.search(r"API token:\s+(\S+)", line):
                token = match.group(1)
            if match := re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line):
                port = int(match.group(1))
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
        base = f"http://127.0.0.1:{port}/webhook/demo"

        def call(method, path, body):
            request = urllib.request.Request(f"{base}/{path}", data=json.dumps(body).encode(), method=method,
                                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            try:  # uvicorn said it is listening: no retry needed
                return json.loads(urllib.request.urlopen(request, timeout=30).read() or "null")
            except urllib.error.HTTPError as exc:
                raise AssertionError(exc.read().decode()) from None

        call("PATCH", "event-subscriptions", [{"eventType": "product.created", "action": "SUBSCRIBE"}])
        call("POST", "endpoints", {"url": f"http://localhost:{receiver.port}/hook", "events": ["product.created"]})
        assert call("POST", "events", {"type": "product.created", "id": "demo-1", "data": {"id": "p1"}})[0]["deliveries"] == 1
        assert receiver.wait_for(1, timeout=30)
        assert json.loads(receiver.received[0].body)["id"] == "demo-1"
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.django_db(transaction=True)
def test_a_hanging_endpoint_gets_only_its_share_of_slots_and_the_others_keep_flowing(tenant, receiver, settings):
    # The circuit breaker is off: this counts how a hanging endpoint's twelve requests share slots; with it on, its
    # circuit opens after five timeouts and the rest wait for a probe (test_endpoint_operator_settings.py).
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "DELIVERY_POLL_SECONDS": 0.05, "DELIVERY_LEASE_MARGIN_SECONDS": 1,
                         "RETRY_SCHEDULE": [0], "CIRCUIT_FAILURE_THRESHOLD": 0}
    # Each request to /hang is answered after 3 s, beyond the endpoint's 1 s timeout: it holds its slot a full second.
    receiver.script = lambda r: (200, {}, "late", 3) if r.path == "/hang" else (200, {}, "ok", 0)
    for kind in ("product.created", "product.updated"):
        apply_subscription_change(tenant, SubscriptionChange(kind, "SUBSCRIBE"))
    slow = create_endpoint(tenant, {"url": receiver.url("/hang"), "events": ["product.created"], "timeout_seconds": 1})[0]
    create_endpoint(tenant, {"url": receiver.url("/ok"), "events": ["product.updated"], "timeout_seconds": 1})
    # The slow endpoint's deliveries come first in the queue: without a per-endpoint cap they take all 4 slots for
    # 3 s (12 requests of 1 s, 4 at a time) before the first healthy delivery is sent.
    record_events(tenant, [IncomingEvent("product.created", {"n": n}) for n in range(12)])
    record_events(tenant, [IncomingEvent("product.updated", {"n": n}) for n in range(12)])
    worker = start_in_background(concurrency=4, per_endpoint=2, batch=50)
    try:
        wait_until(lambda: Delivery.objects.exclude(endpoint=slow).filter(status=DeliveryStatus.SUCCEEDED).count() == 12,
                   timeout=60, what="the healthy deliveries")
        wait_until(lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(), timeout=60, what="every delivery tried")
    finally:
        worker.stop()
        worker.thread.join(10)
    # Every healthy delivery reached the receiver before the hanging endpoint's third pair of requests was sent: they
    # did not wait behind it (without the cap they come after at least 8 of its requests). An order, not a time.
    hanging_at = sorted(r.at for r in receiver.received if r.path == "/hang")
    healthy_at = sorted(r.at for r in receiver.received if r.path == "/ok")
    assert len(healthy_at) == 12 and healthy_at[-1] < hanging_at[4], (healthy_at, hanging_at)
    assert Delivery.objects.exclude(endpoint=slow).filter(status=DeliveryStatus.SUCCEEDED).count() == 12
    hanging = Delivery.objects.filter(endpoint=slow)
    assert hanging.filter(status=DeliveryStatus.FAILED).count() == 12 and all(d.attempt_count == 1 for d in hanging)
    arrivals = sorted(r.at for r in receiver.received if r.path == "/hang")
    assert len(arrivals) == 12  # none sent twice by the release and re-claim
    assert all(later - first >= 0.8 for first, later in zip(arrivals, arrivals[2:]))  # never more than 2 at once


@pytest.mark.django_db(transaction=True)
def test_results_a_busy_database_could_not_take_are_recorded_later_not_sent_again(tenant, receiver, settings, monkeypatch):
    from django.db import OperationalError

    from subscriptions.delivery import worker as worker_module

    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "DELIVERY_POLL_SECONDS": 0.05, "DELIVERY_LEASE_MARGIN_SECONDS": 1}
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": receiver.url(), "events": ["product.created"], "timeout_seconds": 1})
    record, failures = worker_module.record_results, []

    def busy_twice(sent):
        if sent and len(failures) < 2:
            failures.append(len(sent))
            raise OperationalError("database table is locked")
        return record(sent)

    claims, real_claim = [], worker_module.claim_due

    def claim(*args, **kwargs):
        claims.append(time.monotonic())
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(worker_module, "record_results", busy_twice)
    monkeypatch.setattr(worker_module, "claim_due", claim)
    record_events(tenant, [IncomingEvent("product.created", {"n": n}) for n in range(5)])
    worker = start_in_background(concurrency=5)
    try:
        wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 5, timeout=60, what="every delivery recorded")
        # Every lease granted so far (1 s timeout + 1 s margin) has run out, and the worker has claimed three times
        # since: a delivery it had sent but not recorded would have been claimed and sent again by now.
        leases_out = time.monotonic() + 2
        wait_until(lambda: sum(at > leases_out for at in claims) >= 3, what="three claims after the leases ran out")
    finally:
        worker.stop()
        worker.thread.join(10)
    assert len(failures) == 2
    assert len(receiver.received) == 5 and {d.attempt_count for d in Delivery.objects.all()} == {1}

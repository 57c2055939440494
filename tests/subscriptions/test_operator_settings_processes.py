"""rateLimit and the circuit's single probe hold across several `manage.py deliver` processes (PostgreSQL, the set-up
that runs many): they are counted on the endpoint's row, not in a process."""

import os
import signal
import subprocess
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Attempt, CircuitState, Delivery, DeliveryStatus, Endpoint
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tests.subscriptions.test_worker_processes import SETTINGS, manage, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]


def start_workers(count=2):
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": url}
    return [manage(env, "deliver", "--concurrency", "8", "--batch", "50", stdout=subprocess.PIPE, text=True) for _ in range(count)]


def stop(workers):
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    return [worker.communicate(timeout=60)[0] for worker in workers]


def hook(tenant, receiver, count, **settings):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    endpoint = create_endpoint(tenant, {"url": receiver.url(), "events": ["product.created"], "timeout_seconds": 5})[0]
    Endpoint.objects.filter(pk=endpoint.pk).update(**settings)
    record_events(tenant, [IncomingEvent("product.created", {"id": str(i)}) for i in range(count)])
    return endpoint


def test_two_workers_together_send_at_most_the_rate_limit_a_second(tenant, receiver):
    limit, count = 5, 30
    hook(tenant, receiver, count, rate_limit=limit)
    workers = start_workers()
    try:
        done = wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == count, timeout=300)
    finally:
        stop(workers)
    assert done, Counter(Delivery.objects.values_list("status", flat=True))
    started = sorted(Attempt.objects.values_list("started_at", flat=True))
    assert len(started) == count  # none failed, none dropped: each sent once
    per_second = Counter(moment.replace(microsecond=0) for moment in started)
    # Claimed in one second, a request may start a few ms into the next: a second holds at most the limit of its own
    # claims plus a few of the previous one's, never two processes' full allowance each (2 x 5 with per-process limits).
    assert max(per_second.values()) < 2 * limit, per_second
    # 30 at 5 a second fill six one-second windows: from late in the first to early in the sixth is over 4 s (each
    # process on its own allowance would be done in three windows, unlimited in a fraction of one).
    assert (started[-1] - started[0]).total_seconds() >= count / limit - 2


def test_two_workers_send_one_probe_to_an_endpoint_whose_circuit_may_be_probed(tenant, receiver):
    receiver.script = lambda r: (500, {}, "still down", 0.5)
    past = timezone.now() - timedelta(seconds=1)
    endpoint = hook(tenant, receiver, 20, circuit_state=CircuitState.OPEN, circuit_since=past, circuit_until=past,
                    circuit_backoff=30, consecutive_failures=5, failing_since=past)
    workers = start_workers()
    try:
        probed = wait_until(lambda: Attempt.objects.exists() and Endpoint.objects.get(pk=endpoint.pk).circuit_state == CircuitState.OPEN,
                            timeout=120)
        wait_until(lambda: False, timeout=3)  # both workers keep polling meanwhile: no second probe may go
    finally:
        stop(workers)
    endpoint.refresh_from_db()
    assert probed and len(receiver.received) == 1 and Attempt.objects.count() == 1
    assert endpoint.circuit_state == CircuitState.OPEN and endpoint.circuit_backoff == 60  # the failed probe doubled it
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 20  # waiting, none failed

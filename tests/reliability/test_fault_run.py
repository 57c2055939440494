"""A mixed fault run through the long-running worker: healthy, flaky, refusing, hanging, trickling, closing and
flooding receivers side by side. The healthy ones are not held up by the bad ones, and at the end the numbers add
up: every event stored once, one delivery per matching endpoint and event, every due delivery tried, every try
recorded (attempt_count == Attempt rows == requests received), and the metrics agree with the database."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count, F

from eventhub.metrics import REGISTRY
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Attempt, Delivery, DeliveryStatus, Event
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.delivery.worker import start_in_background
from tests.reliability.faults import HostileReceiver
from tests.subscriptions.broker_helpers import wait_until

EVENTS = 10
TRIES = 3


@pytest.fixture
def hostile():
    server = HostileReceiver().start()
    yield server
    server.stop()


def metric(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counters():
    return {
        "events": metric("eventhub_events_recorded_total", origin="http"),
        "deliveries": metric("eventhub_deliveries_created_total"),
        **{outcome: metric("eventhub_delivery_attempts_total", outcome=outcome) for outcome in ("succeeded", "retrying", "failed")},
    }


@pytest.mark.django_db(transaction=True)
def test_a_mixed_fault_run_delivers_what_it_can_fails_the_rest_clearly_and_the_numbers_add_up(tenant, api, receiver, hostile, settings):
    # The circuit breaker is off: this run follows every delivery to its end through the retry schedule; with it on,
    # a dead endpoint's deliveries wait for probes instead (tests/subscriptions/test_endpoint_operator_settings.py).
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 0.2, 0.2], "DELIVERY_POLL_SECONDS": 0.05,
                         "DELIVERY_LEASE_MARGIN_SECONDS": 1, "CIRCUIT_FAILURE_THRESHOLD": 0}
    seen = Counter()

    def answer(request):
        seen[request.webhook_id] += 1
        if request.path == "/reject":
            return 400, {}, "no", 0
        if request.path == "/flaky" and seen[request.webhook_id] == 1:
            return 500, {}, "boom", 0
        return 200, {}, "ok", 0

    receiver.script = answer
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    urls = {path: receiver.url(path) for path in ("/healthy", "/flaky", "/reject")}
    urls.update({path: hostile.url(path) for path in ("/hang", "/trickle", "/close", "/flood")})
    endpoints = {path: create_endpoint(tenant, {"url": url, "events": ["product.*"], "timeout_seconds": 1})[0] for path, url in urls.items()}
    endpoints["/filtered"] = create_endpoint(tenant, {"url": receiver.url("/filtered"), "events": ["product.created"], "timeout_seconds": 1,
                                                      "event_filter": {"data.parity": "even"}})[0]
    before = counters()

    batch = [{"type": "product.created", "id": f"evt-{n}", "data": {"n": n, "parity": "odd" if n % 2 else "even"}} for n in range(EVENTS)]
    first = api.post("/webhook/acme/events", batch, format="json")
    again = api.post("/webhook/acme/events", batch, format="json")  # a client retrying the whole request
    assert first.status_code == again.status_code == 202
    assert [r["created"] for r in first.json()] == [True] * EVENTS and [r["created"] for r in again.json()] == [False] * EVENTS

    worker = start_in_background(concurrency=50)
    try:
        wait_until(lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(), timeout=60, what="every delivery finished")
    finally:
        worker.stop()
        worker.thread.join(10)
    assert not worker.thread.is_alive()

    # Every event stored once; one delivery per matching endpoint and event.
    assert Event.objects.count() == EVENTS and Event.objects.values("event_id").distinct().count() == EVENTS
    per_endpoint = dict(Delivery.objects.values_list("endpoint__url").annotate(n=Count("id")))
    assert per_endpoint == {**{url: EVENTS for url in urls.values()}, receiver.url("/filtered"): EVENTS // 2}
    total = Delivery.objects.count()
    assert total == len(urls) * EVENTS + EVENTS // 2

    # Every delivery ended, the right way; every try is an Attempt row and counted on its delivery.
    status = {path: set(Delivery.objects.filter(endpoint=e).values_list("status", flat=True)) for path, e in endpoints.items()}
    assert status == {"/healthy": {"succeeded"}, "/flaky": {"succeeded"}, "/flood": {"succeeded"}, "/filtered": {"succeeded"},
                      "/reject": {"failed"}, "/hang": {"failed"}, "/trickle": {"failed"}, "/close": {"failed"}}
    by_status = Counter(Delivery.objects.values_list("status", flat=True))
    assert by_status[DeliveryStatus.SUCCEEDED] + by_status[DeliveryStatus.FAILED] == total and not by_status[DeliveryStatus.PENDING]
    assert not Delivery.objects.annotate(rows=Count("attempts")).exclude(attempt_count=F("rows")).exists()
    tries = {path: sorted(set(Delivery.objects.filter(endpoint=e).values_list("attempt_count", flat=True))) for path, e in endpoints.items()}
    assert tries == {"/healthy": [1], "/flaky": [2], "/flood": [1], "/filtered": [1], "/reject": [1],
                     "/hang": [TRIES], "/trickle": [TRIES], "/close": [TRIES]}
    timed_out = Attempt.objects.filter(delivery__endpoint__in=[endpoints["/hang"], endpoints["/trickle"]])
    assert set(timed_out.values_list("error", flat=True)) == {"Timed out after 1 s."}

    # What the receivers got is exactly what was recorded: nothing sent unrecorded, nothing recorded unsent.
    webhook_ids = {path: sorted(Delivery.objects.filter(endpoint=e).values_list("webhook_id", flat=True)) for path, e in endpoints.items()}
    for path in ("/healthy", "/flaky", "/reject", "/filtered"):
        got = sorted(r.webhook_id for r in receiver.received if r.path == path)
        assert got == sorted(webhook_ids[path] * (2 if path == "/flaky" else 1)), path
    for path in ("/hang", "/trickle", "/close", "/flood"):
        assert sorted(hostile.hits(path)) == sorted(webhook_ids[path] * (1 if path == "/flood" else TRIES)), path

    # The healthy receiver's deliveries went through while the hanging ones were still waiting out their timeout.
    def ends(path):
        return [a.started_at + timedelta(milliseconds=a.duration_ms) for a in Attempt.objects.filter(delivery__endpoint=endpoints[path])]

    assert max(ends("/healthy")) < min(ends("/hang"))

    # The metrics agree with the database.
    after = counters()
    attempts = Attempt.objects.count()
    assert after["events"] - before["events"] == EVENTS
    assert after["deliveries"] - before["deliveries"] == total
    assert after["succeeded"] - before["succeeded"] == by_status[DeliveryStatus.SUCCEEDED]
    assert after["failed"] - before["failed"] == by_status[DeliveryStatus.FAILED]
    assert sum(after[k] - before[k] for k in ("succeeded", "retrying", "failed")) == attempts

"""An endpoint's operator settings as deliveries meet them: retrySchedule, the circuit breaker (open after failures in
a row, one probe, close on success), and rateLimit (over it, deliveries wait: never dropped, never failed)."""

import contextlib
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.delivery.worker import deliver_now
from subscriptions.endpoints.services import create_endpoint, update_endpoint
from subscriptions.models import Attempt, CircuitState, Delivery, DeliveryStatus, Endpoint
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.signals import endpoint_failing, endpoint_recovered

pytestmark = pytest.mark.django_db

FAST = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 3600], "CIRCUIT_FAILURE_THRESHOLD": 3,
        "CIRCUIT_OPEN_SECONDS": 1, "CIRCUIT_MAX_OPEN_SECONDS": 2}


@pytest.fixture(autouse=True)
def fast(settings):
    settings.EVENTHUB = dict(FAST)


@pytest.fixture
def endpoint(tenant, receiver):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": receiver.url(), "events": ["product.*"], "timeout_seconds": 2})[0]


def publish(tenant, count, start=0):
    record_events(tenant, [IncomingEvent("product.created", {"id": str(i)}) for i in range(start, start + count)])


@contextlib.contextmanager
def heard(signal):
    endpoints = []
    signal.connect(lambda endpoint, **kw: endpoints.append(endpoint.pk), weak=False, dispatch_uid="test-heard")
    try:
        yield endpoints
    finally:
        signal.disconnect(dispatch_uid="test-heard")


def wait_past(moment):
    while timezone.now() <= moment:
        time.sleep(0.05)


# --- retrySchedule ---------------------------------------------------------------------------------------------


def test_an_endpoints_retry_schedule_replaces_the_hubs(tenant, endpoint, receiver):
    receiver.script = lambda r: (500, {}, "down", 0)
    Endpoint.objects.filter(pk=endpoint.pk).update(retry_schedule=[7, 9])
    publish(tenant, 1)
    deliver_now()
    delivery = Delivery.objects.get()
    wait = (delivery.next_attempt_at - Attempt.objects.get().started_at).total_seconds()
    assert delivery.status == DeliveryStatus.PENDING and 6.5 < wait < 8  # 7 s, not the hub's 3600
    Delivery.objects.update(next_attempt_at=timezone.now())
    deliver_now()
    Delivery.objects.update(next_attempt_at=timezone.now())
    deliver_now()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "Gave up after 3 attempts" in delivery.last_error


def test_an_empty_retry_schedule_means_one_try(tenant, endpoint, receiver):
    receiver.script = lambda r: (503, {}, "down", 0)
    Endpoint.objects.filter(pk=endpoint.pk).update(retry_schedule=[])
    publish(tenant, 1)
    deliver_now()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "Gave up after 1 attempts" in delivery.last_error


def test_the_api_sets_and_shows_rate_limit_and_retry_schedule(api, endpoint):
    response = api.patch(f"/webhook/acme/endpoints/{endpoint.pk}", {"rateLimit": 20, "retrySchedule": [5, 60],
                         "metadata": {"version": 1}}, format="json")
    assert response.status_code == 200, response.content
    body = api.get(f"/webhook/acme/endpoints/{endpoint.pk}").json()
    assert (body["rateLimit"], body["retrySchedule"]) == (20, [5, 60])
    assert body["circuit"] == {"state": "closed", "since": None, "until": None, "consecutiveFailures": 0}


# --- the circuit breaker ---------------------------------------------------------------------------------------


def test_failures_in_a_row_open_the_circuit_and_the_rest_wait_untried(tenant, endpoint, receiver):
    receiver.script = lambda r: (500, {}, "down", 0)
    publish(tenant, 8)
    with heard(endpoint_failing) as failing:
        deliver_now(limit=3)  # three failures in a row: the threshold
        assert deliver_now() == 0  # the circuit is open: the five others wait
    endpoint.refresh_from_db()
    assert endpoint.circuit_state == CircuitState.OPEN and endpoint.consecutive_failures == 3
    assert failing == [endpoint.pk]  # announced once, for the operational event
    assert len(receiver.received) == 3 and Attempt.objects.count() == 3
    waiting = Delivery.objects.filter(attempt_count=0)
    assert waiting.count() == 5 and {d.status for d in waiting} == {DeliveryStatus.PENDING}
    assert all(d.next_attempt_at >= endpoint.circuit_until for d in waiting)  # not due before the probe time


def test_after_the_open_period_one_probe_goes_and_its_failure_doubles_the_wait(tenant, endpoint, receiver):
    receiver.script = lambda r: (500, {}, "down", 0)
    publish(tenant, 6)
    deliver_now(limit=3)
    endpoint.refresh_from_db()
    wait_past(endpoint.circuit_until)
    assert deliver_now() == 1  # the probe alone
    endpoint.refresh_from_db()
    assert endpoint.circuit_state == CircuitState.OPEN and endpoint.circuit_backoff == 2  # 1 s, then 2 s
    assert len(receiver.received) == 4 and deliver_now() == 0


def test_a_successful_probe_closes_the_circuit_and_the_waiting_deliveries_go_at_once(tenant, endpoint, receiver, api):
    receiver.script = lambda r: (500, {}, "down", 0)
    publish(tenant, 6)
    deliver_now(limit=3)
    body = api.get(f"/webhook/acme/endpoints/{endpoint.pk}").json()
    assert body["circuit"]["state"] == "open" and body["circuit"]["consecutiveFailures"] == 3 and body["circuit"]["since"]
    endpoint.refresh_from_db()
    wait_past(endpoint.circuit_until)
    receiver.script = lambda r: (200, {}, "ok", 0)
    with heard(endpoint_recovered) as recovered:
        assert deliver_now() == 1
    endpoint.refresh_from_db()
    assert endpoint.circuit_state == CircuitState.CLOSED and endpoint.consecutive_failures == 0
    assert recovered == [endpoint.pk] and endpoint.failing_since is None
    deliver_now()  # the three waiting go now, not at their deferred time; the three failed wait for their retry
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 6


def test_a_success_between_failures_keeps_the_circuit_closed(tenant, endpoint, receiver):
    answers = iter([500, 500, 200, 500, 500, 200])
    receiver.script = lambda r: (next(answers), {}, "", 0)
    publish(tenant, 6)
    for _ in range(6):
        deliver_now(limit=1)
    endpoint.refresh_from_db()
    assert endpoint.circuit_state == CircuitState.CLOSED and endpoint.consecutive_failures == 0
    assert len(receiver.received) == 6


def test_the_dashboard_shows_an_open_circuit_and_since_when(tenant, endpoint, receiver, client):
    from tenants.models import Role
    from tenants.services import add_member, ensure_user

    user, _ = ensure_user("viewer", "pw-123456!")
    add_member(tenant, user, Role.VIEWER)
    client.force_login(user)
    receiver.script = lambda r: (500, {}, "down", 0)
    publish(tenant, 3)
    deliver_now()
    html = client.get(f"/t/acme/endpoints/{endpoint.pk}/").content.decode()
    assert 'data-circuit="open"' in html and "circuit open" in html and "3 failures in a row" in html
    listed = client.get("/t/acme/endpoints/").content.decode()
    assert 'data-circuit="open"' in listed and "circuit open" in listed


def test_re_enabling_an_endpoint_closes_its_circuit(tenant, endpoint, receiver):
    receiver.script = lambda r: (500, {}, "down", 0)
    publish(tenant, 3)
    deliver_now()
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    endpoint.refresh_from_db()
    update_endpoint(endpoint, {"enabled": True}, endpoint.version)
    endpoint.refresh_from_db()
    assert (endpoint.circuit_state, endpoint.consecutive_failures, endpoint.failing_since) == (CircuitState.CLOSED, 0, None)


# --- rateLimit -------------------------------------------------------------------------------------------------


def test_over_the_rate_limit_deliveries_wait_for_the_next_second_untried_and_unfailed(tenant, endpoint, receiver):
    Endpoint.objects.filter(pk=endpoint.pk).update(rate_limit=4)
    publish(tenant, 10)
    second = timezone.now().replace(microsecond=0)
    sent = deliver_now(limit=100)
    if timezone.now().replace(microsecond=0) != second:  # the claim crossed into a new second: judge by its window
        second = Endpoint.objects.get(pk=endpoint.pk).rate_window
    assert sent == 4 and len(receiver.received) == 4
    waiting = Delivery.objects.filter(attempt_count=0)
    assert waiting.count() == 6 and {d.status for d in waiting} == {DeliveryStatus.PENDING}
    assert {d.next_attempt_at for d in waiting} == {second + timedelta(seconds=1)}
    deadline = time.monotonic() + 30
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists() and time.monotonic() < deadline:
        deliver_now(limit=100) or time.sleep(0.05)
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED, attempt_count=1).count() == 10


def test_an_endpoint_without_settings_is_untouched_by_another_ones_limit(tenant, endpoint, receiver):
    other = create_endpoint(tenant, {"url": receiver.url("/other"), "events": ["product.*"]})[0]
    Endpoint.objects.filter(pk=endpoint.pk).update(rate_limit=1)
    publish(tenant, 5)
    deliver_now(limit=100)
    assert Delivery.objects.filter(endpoint=other, status=DeliveryStatus.SUCCEEDED).count() == 5
    assert Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED).count() == 1

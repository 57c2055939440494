"""Receivers that misbehave below HTTP: one closes the connection without answering, one cuts its answer short, one
trickles a 50 MB body, one floods it. Each try ends within the endpoint's timeout with the reason recorded, is retried
under the same webhook-id, and no more than the first 4 KiB of any answer is read."""

import pytest

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Attempt, Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.delivery.worker import deliver_now
from tests.reliability.faults import HUGE, HostileReceiver
from tests.subscriptions.broker_helpers import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_schedule(settings):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 0.1, 0.1]}


@pytest.fixture
def hostile():
    server = HostileReceiver().start()
    yield server
    server.stop()


def one_delivery_to(tenant, url):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": url, "events": ["product.created"], "timeout_seconds": 1})
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
    return Delivery.objects.get()


def drain():
    wait_until(lambda: deliver_now() == 0 and not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(), timeout=20,
               what="every try made")


@pytest.mark.parametrize("path, error", [("/close", "Server disconnected"), ("/truncate", "ClientPayloadError")])
def test_a_connection_closed_without_a_full_answer_is_an_error_retried_until_the_schedule_ends(tenant, hostile, path, error):
    delivery = one_delivery_to(tenant, hostile.url(path))
    drain()
    delivery.refresh_from_db()
    attempts = list(delivery.attempts.all())
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 3 == len(attempts)
    assert all(error in a.error and a.status_code is None for a in attempts), [a.error for a in attempts]
    assert "Gave up after 3 attempts" in delivery.last_error
    assert hostile.hits(path) == [delivery.webhook_id] * 3  # the same webhook-id each time: receivers can dedupe


def test_a_huge_body_trickled_slowly_times_out_at_the_endpoint_timeout_and_is_retried(tenant, hostile):
    delivery = one_delivery_to(tenant, hostile.url("/trickle"))
    assert deliver_now() == 1
    attempt = Attempt.objects.get()
    assert attempt.status_code is None and attempt.error == "Timed out after 1 s." and 900 < attempt.duration_ms < 2500
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None  # retrying
    wait_until(lambda: hostile.sent and not hostile.open_connections, timeout=10, what="the hub hanging up")
    assert hostile.sent[0] < 1024  # a few hundred bytes had trickled out when the hub gave up


def test_a_huge_body_sent_fast_is_read_only_to_its_first_4_kib(tenant, hostile):
    delivery = one_delivery_to(tenant, hostile.url("/flood"))
    assert deliver_now() == 1
    delivery.refresh_from_db()
    attempt = Attempt.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and attempt.status_code == 200
    assert attempt.response_body == "x" * 4096 and attempt.duration_ms < 2000
    wait_until(lambda: hostile.sent and not hostile.open_connections, timeout=10, what="the hub hanging up")
    # What got out before the hub closed the connection is what the socket buffers held: a few MB at most, not 50.
    assert hostile.sent[0] < HUGE // 5


def test_a_small_compressed_answer_is_unpacked_only_to_its_first_4_kib(tenant, hostile):
    """The hub asks for no compression; a receiver that compresses anyway, 4 MB into less than 4 KiB, is read as any
    answer is: its length on the wire says nothing of what it unpacks to."""
    delivery = one_delivery_to(tenant, hostile.url("/bomb"))
    assert deliver_now() == 1
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.request_headers["Accept-Encoding"] == "identity"
    assert attempt.status_code == 200 and attempt.response_body == "x" * 4096  # of the 4 MB it unpacks to

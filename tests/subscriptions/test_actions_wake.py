"""Retry and replay wake the workers themselves (delivery/actions.py), so every door that calls them, the API's and the
dashboard's alike, gets its deliveries sent at once instead of at the workers' next poll."""

import pytest
from django.test import Client

from subscriptions.delivery.worker import start_in_background
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.models import Role
from tenants.services import add_member, ensure_user
from tests.subscriptions.broker_helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def failed(tenant, receiver, settings):
    """A delivery that failed for good, to an endpoint now answering 200 (the hub may send to 127.0.0.1 here)."""
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "DELIVERY_POLL_SECONDS": 3600}
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    endpoint, _ = create_endpoint(tenant, {"url": receiver.url(), "events": ["product.created"]})
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"})])
    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None, attempt_count=8, last_error="HTTP 500")
    return Delivery.objects.get()


@pytest.fixture
def idle_worker(monkeypatch):
    """An embedded worker that has claimed once, found nothing due, and now sleeps an hour unless woken."""
    from subscriptions.delivery import worker as worker_module

    claims, real_claim = [], worker_module.claim_due

    def counted_claim(*args, **kwargs):  # counted when it returns: the worker has looked and found nothing
        jobs = real_claim(*args, **kwargs)
        claims.append(1)
        return jobs

    monkeypatch.setattr(worker_module, "claim_due", counted_claim)
    worker = start_in_background()
    wait_until(lambda: claims, what="the worker's first claim")
    yield worker
    worker.stop()
    worker.thread.join(10)


def editor(tenant):
    user, _ = ensure_user("wake-editor", "pw-123456!")
    add_member(tenant, user, Role.EDITOR)
    client = Client()
    client.force_login(user)
    return client


def test_a_retry_from_the_dashboard_is_sent_at_once(tenant, failed, idle_worker, receiver):
    assert editor(tenant).post(f"/t/acme/deliveries/{failed.pk}/retry/").status_code == 302
    assert receiver.wait_for(1, timeout=30), "not woken: the retry waited for the hourly poll"


def test_a_retry_from_the_api_is_sent_at_once(api, failed, idle_worker, receiver):
    assert api.post(f"/webhook/acme/deliveries/{failed.pk}/retry").status_code == 202
    assert receiver.wait_for(1, timeout=30), "not woken: the retry waited for the hourly poll"


def test_a_replay_from_the_dashboard_is_sent_at_once(tenant, failed, idle_worker, receiver):
    answer = editor(tenant).post(f"/t/acme/endpoints/{failed.endpoint_id}/replay/", {"since": "2000-01-01T00:00"})
    assert answer.status_code == 302
    assert receiver.wait_for(1, timeout=30), "not woken: the replay waited for the hourly poll"

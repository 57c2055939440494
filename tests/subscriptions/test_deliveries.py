"""Preview, test send, retry and replay: what the API and the dashboard offer on top of the pipeline."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from subscriptions.delivery.actions import (
    PREVIEW_SECRET, NotRetryable, UnknownEventType, preview_delivery, replay_endpoint, retry_delivery, send_test_event,
)
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus, Event
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(tenant):
    return create_endpoint(
        tenant,
        {"url": "https://hooks.example.com/a", "events": ["product.*"], "custom_payload": {"Id": "/data/id", "type": "/type"},
         "headers": {"X-Team": "catalog"}},
    )


def test_preview_explains_why_an_event_would_not_be_delivered(tenant, endpoint):
    ep, _ = endpoint
    preview = preview_delivery(ep, "product.created", {"id": "p1"})
    assert not preview.matches and any("not subscribed" in r for r in preview.reasons)
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    assert preview_delivery(ep, "product.created", {"id": "p1"}).matches
    other = preview_delivery(ep, "entryCreated", {})
    assert not other.matches and any("selects 'entryCreated'" in r for r in other.reasons)


def test_preview_shows_the_exact_body_and_headers_signed_with_the_placeholder(tenant, endpoint):
    ep, _ = endpoint
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE", fields_to_unsubscribe=("description",)))
    preview = preview_delivery(ep, "product.created", {"id": "p1", "description": "hidden"})
    assert json.loads(preview.body) == {"Id": "p1", "type": "product.created"}
    assert preview.headers["X-Team"] == "catalog" and preview.headers["Content-Type"] == "application/json"
    Webhook(PREVIEW_SECRET).verify(preview.body.encode(), preview.headers)  # never the endpoint's secret: no oracle


def test_preview_without_sample_uses_the_catalog_example_or_the_schema(tenant, endpoint):
    ep, _ = endpoint
    envelope = preview_delivery(ep, "product.created").envelope
    assert set(envelope["data"]) == {"id", "name", "description", "productType"}
    with pytest.raises(UnknownEventType):
        preview_delivery(ep, "no.such.type")


def test_a_test_event_goes_to_that_endpoint_only_even_unsubscribed(tenant, endpoint):
    ep, _ = endpoint
    create_endpoint(tenant, {"url": "https://hooks.example.com/b", "events": ["*"]})
    delivery = send_test_event(ep, "product.created", {"id": "t1"})
    assert Delivery.objects.get().pk == delivery.pk and delivery.status == DeliveryStatus.PENDING
    assert json.loads(delivery.body) == {"Id": "t1", "type": "product.created"}
    assert Event.objects.get().origin == "test"


def test_retry_makes_a_failed_delivery_due_again(tenant, endpoint):
    ep, _ = endpoint
    delivery = send_test_event(ep, "product.created", {"id": "t1"})
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None, finished_at=timezone.now())
    retry_delivery(delivery)
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None and delivery.finished_at is None


def test_a_delivery_a_worker_is_sending_cannot_be_re_armed_under_it(tenant, endpoint):
    ep, _ = endpoint
    delivery = send_test_event(ep, "product.created", {"id": "t1"})
    leased_until = timezone.now() + timedelta(seconds=30)
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=leased_until)  # what claim_due does before sending
    with pytest.raises(NotRetryable, match="sending this delivery right now"):
        retry_delivery(delivery)
    assert Delivery.objects.get(pk=delivery.pk).lease_until == leased_until


def test_a_delivery_whose_lease_ran_out_can_be_retried(tenant, endpoint):
    ep, _ = endpoint
    delivery = send_test_event(ep, "product.created", {"id": "t1"})
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    retry_delivery(delivery)
    assert delivery.lease_until is None and delivery.status == DeliveryStatus.PENDING


def test_replay_resends_a_window_as_new_deliveries(tenant, endpoint):
    ep, _ = endpoint
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    record_events(tenant, [IncomingEvent("product.created", {"id": str(i)}) for i in range(3)])
    Delivery.objects.update(status=DeliveryStatus.SUCCEEDED, created_at=timezone.now() - timedelta(hours=2))
    record_events(tenant, [IncomingEvent("product.created", {"id": "new"})])
    assert replay_endpoint(ep, since=timezone.now() - timedelta(hours=3), until=timezone.now() - timedelta(hours=1)) == 3
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 4

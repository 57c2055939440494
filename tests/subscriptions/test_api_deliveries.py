"""Deliveries API: the log with attempts, detail, retry, replay, preview and a real test send; scopes and isolation."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.delivery.worker import deliver_now

pytestmark = pytest.mark.django_db

BASE = "/webhook/acme"


@pytest.fixture(autouse=True)
def local_receivers(settings):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 0.1]}


@pytest.fixture
def hook(tenant, receiver):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": receiver.url(), "events": ["product.*"], "timeout_seconds": 2})


def test_the_log_shows_deliveries_with_attempts_and_filters(api, tenant, hook, receiver):
    answers = iter([(500, {}, "boom", 0), (200, {}, "ok", 0)])
    receiver.script = lambda r: next(answers, (200, {}, "ok", 0))
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
    deliver_now()
    listed = api.get(f"{BASE}/deliveries").json()
    assert len(listed) == 1 and listed[0]["status"] == "pending" and listed[0]["attempts"][0]["statusCode"] == 500
    assert listed[0]["event"]["id"] == "evt-1" and listed[0]["webhookId"] == Delivery.objects.get().webhook_id
    assert "responseBody" not in listed[0]["attempts"][0]  # the full attempt is in the detail
    assert api.get(f"{BASE}/deliveries", {"status": "succeeded"}).json() == []
    assert len(api.get(f"{BASE}/deliveries", {"endpoint": str(hook[0].pk), "eventType": "product.created"}).json()) == 1
    assert api.get(f"{BASE}/deliveries", {"eventType": "product.deleted"}).json() == []
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get(f"{BASE}/deliveries", {"since": future}).json() == []
    assert api.get(f"{BASE}/deliveries", {"status": "lost"}).status_code == 400
    assert api.get(f"{BASE}/deliveries", {"since": "soon"}).status_code == 400

    detail = api.get(f"{BASE}/deliveries/{listed[0]['id']}").json()
    assert detail["body"]["data"] == {"id": "p1"}
    attempt = detail["attempts"][0]
    assert attempt["responseBody"] == "boom" and attempt["requestHeaders"]["webhook-id"] == detail["webhookId"]


def test_retry_sends_a_failed_delivery_again_with_the_same_webhook_id(api, tenant, hook, receiver):
    receiver.script = lambda r: (400, {}, "bad", 0)
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"})])
    deliver_now()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    receiver.script = None
    response = api.post(f"{BASE}/deliveries/{delivery.pk}/retry")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    deliver_now()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempt_count == 2
    assert receiver.received[0].webhook_id == receiver.received[1].webhook_id


def test_retry_of_a_delivery_whose_endpoint_was_deleted_is_a_conflict(api, tenant, hook):
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"})])
    hook[0].delete()
    response = api.post(f"{BASE}/deliveries/{Delivery.objects.get().pk}/retry")
    assert response.status_code == 409 and "deleted" in response.json()["message"]


def test_retry_of_a_delivery_being_sent_right_now_is_a_conflict_and_changes_nothing(api, tenant, hook):
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"})])
    leased_until = timezone.now() + timedelta(seconds=30)
    Delivery.objects.update(lease_until=leased_until)
    response = api.post(f"{BASE}/deliveries/{Delivery.objects.get().pk}/retry")
    assert response.status_code == 409 and "right now" in response.json()["message"]
    assert Delivery.objects.get().lease_until == leased_until


def test_replay_resends_a_window_as_new_messages(api, tenant, hook, receiver):
    record_events(tenant, [IncomingEvent("product.created", {"id": str(i)}) for i in range(3)])
    deliver_now()
    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    response = api.post(f"{BASE}/endpoints/{hook[0].pk}/replay?since={since.replace('+', '%2B')}")
    assert response.status_code == 202 and response.json() == {"deliveries": 3}
    deliver_now()
    ids = [r.webhook_id for r in receiver.received]
    assert len(ids) == 6 and len(set(ids)) == 6  # a replay is a new message: a new webhook-id
    assert api.post(f"{BASE}/endpoints/{hook[0].pk}/replay").status_code == 400
    until = (timezone.now() - timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert api.post(f"{BASE}/endpoints/{hook[0].pk}/replay?since={since.replace('+', '%2B')}&until={until}").status_code == 400


def test_preview_answers_match_reasons_body_and_headers(api, tenant, hook):
    endpoint, secret = hook
    response = api.post(f"{BASE}/endpoints/{endpoint.pk}/preview", {"eventType": "product.created", "data": {"id": "p9"}}, format="json")
    body = response.json()
    assert response.status_code == 200 and body["matches"] and body["reasons"] == []
    assert body["body"]["data"] == {"id": "p9"} and body["headers"]["Content-Type"] == "application/json"
    other = api.post(f"{BASE}/endpoints/{endpoint.pk}/preview", {"eventType": "entryCreated"}, format="json").json()
    assert not other["matches"] and other["reasons"]
    assert api.post(f"{BASE}/endpoints/{endpoint.pk}/preview", {"eventType": "nope"}, format="json").status_code == 400
    assert api.post(f"{BASE}/endpoints/{endpoint.pk}/preview", {"eventType": "product.created", "data": 1}, format="json").status_code == 400


def test_a_test_send_is_queued_and_reaches_the_receiver_signed(api, tenant, hook, receiver):
    endpoint, secret = hook
    response = api.post(f"{BASE}/endpoints/{endpoint.pk}/test", {"eventType": "product.deleted", "data": {"id": "t1"}}, format="json")
    queued = response.json()
    assert response.status_code == 202 and queued["status"] == "pending" and queued["attempts"] == []
    assert response["Location"] == f"{BASE}/deliveries/{queued['id']}" and not receiver.received  # nothing sent in the request
    assert deliver_now(ids=[queued["id"]]) == 1  # what the woken worker does
    body = api.get(response["Location"]).json()
    assert body["status"] == "succeeded"
    assert body["attempts"][0]["statusCode"] == 200 and body["attempts"][0]["responseBody"] == "ok"
    request = receiver.received[0]
    assert Webhook(secret).verify(request.body, request.headers)["data"] == {"id": "t1"}


def test_other_tenants_ids_are_not_found_and_scopes_apply(tenant, other_tenant, api_client_for, hook):
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"})])
    delivery, endpoint = Delivery.objects.get(), hook[0]
    stranger = api_client_for(other_tenant)
    assert stranger.get("/webhook/globex/deliveries").json() == []
    assert stranger.get(f"/webhook/globex/deliveries/{delivery.pk}").status_code == 404
    assert stranger.post(f"/webhook/globex/deliveries/{delivery.pk}/retry").status_code == 404
    assert stranger.post(f"/webhook/globex/endpoints/{endpoint.pk}/replay?since=2026-01-01T00:00:00Z").status_code == 404
    assert stranger.post(f"/webhook/globex/endpoints/{endpoint.pk}/preview", {"eventType": "product.created"}, format="json").status_code == 404
    assert stranger.post(f"/webhook/globex/endpoints/{endpoint.pk}/test", {"eventType": "product.created"}, format="json").status_code == 404
    assert stranger.get("/webhook/globex/deliveries", {"endpoint": str(endpoint.pk)}).status_code == 404
    assert stranger.get(f"{BASE}/deliveries").status_code == 403

    reader = api_client_for(tenant, "webhook.endpoint_read")
    assert reader.get(f"{BASE}/deliveries/{delivery.pk}").status_code == 200
    assert reader.post(f"{BASE}/endpoints/{endpoint.pk}/preview", {"eventType": "product.created"}, format="json").status_code == 200
    assert reader.post(f"{BASE}/deliveries/{delivery.pk}/retry").status_code == 403
    assert reader.post(f"{BASE}/endpoints/{endpoint.pk}/test", {"eventType": "product.created"}, format="json").status_code == 403
    assert reader.post(f"{BASE}/endpoints/{endpoint.pk}/replay?since=2026-01-01T00:00:00Z").status_code == 403
    assert api_client_for(tenant, "webhook.event_read").get(f"{BASE}/deliveries").status_code == 403
    assert api_client_for(tenant).get(f"{BASE}/deliveries/abc").status_code == 404

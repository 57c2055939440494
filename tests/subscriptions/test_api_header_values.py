"""What a read-only token may not learn through the API: a signature made with the endpoint's secret over a body it
chose (the preview), and the endpoint's header values (often the receiver's credentials), at every door they leave by.
"""

import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from monitor import broadcast
from subscriptions.delivery.actions import PREVIEW_SECRET, masked_request_headers, preview_delivery
from subscriptions.delivery.sender import USER_AGENT
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.delivery.worker import deliver_now

pytestmark = pytest.mark.django_db

BASE = "/webhook/acme"
CREDENTIAL = "Bearer s3cret-receiver-token"
HEADERS = {"Authorization": CREDENTIAL, "X-Team": "catalog"}
READ = "webhook.endpoint_read"
MANAGE = "webhook.endpoint_manage"


@pytest.fixture(autouse=True)
def local_receivers(settings):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0]}


@pytest.fixture
def hook(tenant, receiver):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": receiver.url(), "events": ["product.*"], "timeout_seconds": 2, "headers": dict(HEADERS)})


@pytest.fixture
def reader(tenant, api_client_for):
    return api_client_for(tenant, READ, "webhook.event_read")


@pytest.fixture
def manager(tenant, api_client_for):
    return api_client_for(tenant, READ, MANAGE)


def preview(client, endpoint, data):
    response = client.post(f"{BASE}/endpoints/{endpoint.pk}/preview", {"eventType": "product.created", "data": data}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def signed_bytes(answer):
    """The body exactly as the preview signed it (compact JSON, as preview_delivery renders it)."""
    return json.dumps(answer["body"], ensure_ascii=False, separators=(",", ":")).encode()


# --- the preview is no signing oracle -------------------------------------------------------------------------


@pytest.mark.parametrize("scopes", [(READ,), (READ, MANAGE)], ids=["reader", "manager"])
def test_a_preview_signature_never_verifies_with_the_endpoints_secret_only_with_the_placeholder(tenant, hook, api_client_for, scopes):
    endpoint, secret = hook
    answer = preview(api_client_for(tenant, *scopes), endpoint, {"id": "forged", "price": 0})
    headers = {name.lower(): value for name, value in answer["headers"].items()}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(signed_bytes(answer), headers)
    assert Webhook(PREVIEW_SECRET).verify(signed_bytes(answer), headers)["data"] == {"id": "forged", "price": 0}
    assert answer["signedWith"] == "placeholder" and answer["placeholderSecret"] == PREVIEW_SECRET


def test_the_preview_service_signs_with_the_placeholder_whatever_the_endpoint(hook):
    endpoint, secret = hook
    made = preview_delivery(endpoint, "product.created", {"id": "x"})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(made.body.encode(), made.headers)
    Webhook(PREVIEW_SECRET).verify(made.body.encode(), made.headers)
    assert made.signed_with == "placeholder"


def test_sending_for_real_needs_the_manage_scope(tenant, hook, reader, manager, receiver):
    endpoint, secret = hook
    sample = {"eventType": "product.created", "data": {"id": "t1"}}
    assert reader.post(f"{BASE}/endpoints/{endpoint.pk}/test", sample, format="json").status_code == 403
    assert receiver.received == []
    queued = manager.post(f"{BASE}/endpoints/{endpoint.pk}/test", sample, format="json")
    assert queued.status_code == 202 and deliver_now(ids=[queued.json()["id"]]) == 1
    request = receiver.received[0]
    assert Webhook(secret).verify(request.body, request.headers)["data"] == {"id": "t1"}


def test_the_schema_documents_the_placeholder_and_the_masked_values(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    preview_schema = components["DeliveryPreview"]["properties"]
    signed_with = components[preview_schema["signedWith"]["allOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert signed_with["enum"] == ["placeholder"] and "placeholderSecret" in preview_schema
    assert "placeholder" in preview_schema["headers"]["description"]
    assert components["EndpointOutput"]["properties"]["headers"]["additionalProperties"]["nullable"] is True
    assert "null" in components["Attempt"]["properties"]["requestHeaders"]["description"]
    assert "nullable" not in components["EndpointRequest"]["properties"]["headers"].get("additionalProperties", {})


# --- header values: names for readers, values for those who may manage the endpoint -----------------------------


def test_endpoint_list_and_detail_mask_header_values_for_readers(hook, reader, manager):
    endpoint, _ = hook
    for path in (f"{BASE}/endpoints", f"{BASE}/endpoints/{endpoint.pk}"):
        seen = reader.get(path)
        assert CREDENTIAL not in seen.content.decode() and "catalog" not in seen.content.decode()
        shown = seen.json()
        assert (shown[0] if isinstance(shown, list) else shown)["headers"] == {"Authorization": None, "X-Team": None}
        full = manager.get(path).json()
        assert (full[0] if isinstance(full, list) else full)["headers"] == HEADERS


def test_patch_answers_show_the_values_to_the_manager_who_set_them(hook, manager):
    endpoint, _ = hook
    answer = manager.patch(f"{BASE}/endpoints/{endpoint.pk}", {"description": "x", "metadata": {"version": 1}}, format="json").json()
    assert answer["headers"] == HEADERS


def test_a_null_header_value_is_still_refused_on_input(manager):
    body = {"url": "https://hooks.example.com/a", "events": ["product.created"], "headers": {"Authorization": None}}
    assert manager.post(f"{BASE}/endpoints", body, format="json").status_code == 400


def test_preview_headers_mask_the_endpoints_own_values_for_readers(hook, reader, manager):
    endpoint, _ = hook
    masked = preview(reader, endpoint, {"id": "p1"})["headers"]
    assert masked["Authorization"] is None and masked["X-Team"] is None
    assert masked["Content-Type"] == "application/json" and masked["webhook-id"] and masked["webhook-signature"].startswith("v1,")
    shown = preview(manager, endpoint, {"id": "p1"})["headers"]
    assert shown["Authorization"] == CREDENTIAL and shown["X-Team"] == "catalog"


def test_attempts_request_headers_mask_the_endpoints_own_values_for_readers(tenant, hook, reader, manager, receiver):
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
    deliver_now()
    delivery = Delivery.objects.get()
    assert receiver.received[0].headers["authorization"] == CREDENTIAL  # it was sent, and stored with the attempt
    assert delivery.attempts.get().request_headers["Authorization"] == CREDENTIAL
    for path in (f"{BASE}/deliveries", f"{BASE}/deliveries/{delivery.pk}", f"{BASE}/events"):
        answer = reader.get(path)
        assert answer.status_code == 200 and CREDENTIAL not in answer.content.decode(), path
    sent = reader.get(f"{BASE}/deliveries/{delivery.pk}").json()["attempts"][0]["requestHeaders"]
    assert sent["Authorization"] is None and sent["X-Team"] is None
    assert sent["webhook-id"] == delivery.webhook_id and sent["User-Agent"] == USER_AGENT
    full = manager.get(f"{BASE}/deliveries/{delivery.pk}").json()["attempts"][0]["requestHeaders"]
    assert full["Authorization"] == CREDENTIAL


def test_the_live_monitor_carries_no_header_values(tenant, hook, receiver, monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr(broadcast, "publish", lambda tenant_name, message: published.append(message))
    monkeypatch.setattr(broadcast, "heard", lambda: True)  # someone watches (with nobody, no message is even built)
    with django_capture_on_commit_callbacks(execute=True):
        record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
    deliver_now()
    assert {m["kind"] for m in published} == {"ingested", "delivery"}
    assert CREDENTIAL not in json.dumps(published, default=str)


def test_only_the_values_the_hub_sets_itself_survive_masking():
    sent = {"Content-Type": "application/json", "User-Agent": "my-agent/1 token=abc", "Authorization": CREDENTIAL,
            "Accept-Encoding": "identity", "webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,abc"}
    assert masked_request_headers(sent) == {
        "Content-Type": "application/json", "User-Agent": None, "Authorization": None, "Accept-Encoding": "identity",
        "webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,abc",
    }
    assert masked_request_headers({"Accept-Encoding": "gzip; key=abc"}) == {"Accept-Encoding": None}  # the endpoint's own

"""The dashboard's side of two holes: the preview is signed with a placeholder, never the endpoint's secret (an editor
may preview but not see secrets), and an endpoint's header values are shown only to those who may manage it."""

import json

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from subscriptions.delivery.actions import PREVIEW_SECRET
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Attempt, Delivery, DeliveryStatus, Event
from tenants.models import Role

pytestmark = pytest.mark.django_db

BASE = "/t/acme/"
CREDENTIAL = "Bearer s3cret-receiver-token"
MASK = "••••••"


@pytest.fixture
def guarded(tenant):
    """(endpoint, secret) of an endpoint whose receiver wants a bearer token."""
    return create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"],
                                    "headers": {"Authorization": CREDENTIAL, "X-Team": "team-7f3"}})


def form_of(endpoint, **extra):
    return {"url": endpoint.url, "method": "POST", "patterns": "product.*", "timeout_seconds": 15, "enabled": "on",
            "header_name": ["Authorization", "X-Team"], "header_value": [CREDENTIAL, "team-7f3"], "event_filter": "",
            "custom_payload": "", "description": "", "version": endpoint.version, **extra}


def test_the_live_preview_is_signed_with_the_placeholder_never_the_endpoints_secret(editor, guarded):
    endpoint, secret = guarded
    data = form_of(endpoint, endpoint_id=str(endpoint.pk), preview_type="product.created", preview_sample='{"id": "forged"}')
    answer = editor.post(BASE + "endpoints/preview/", data).json()
    assert answer["ok"], answer
    body, headers = answer["body"].encode(), {k.lower(): v for k, v in answer["headers"].items()}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)
    assert Webhook(PREVIEW_SECRET).verify(body, headers)["data"] == {"id": "forged"}
    assert answer["signedWith"] == "placeholder" and PREVIEW_SECRET in answer["signatureNote"]


def test_the_preview_page_says_the_signature_is_a_placeholder(editor, guarded):
    endpoint, _ = guarded
    data = form_of(endpoint, preview_type="product.created", preview_sample='{"id": "p1"}', preview="1")
    html = editor.post(f"{BASE}endpoints/{endpoint.pk}/edit/", data).content.decode()
    assert "webhook-signature: v1," in html and "placeholder secret" in html and PREVIEW_SECRET in html


def test_viewers_see_header_names_editors_and_owners_see_values_on_the_endpoint_page(client_as, guarded):
    endpoint, _ = guarded
    viewer = client_as(Role.VIEWER).get(f"{BASE}endpoints/{endpoint.pk}/").content.decode()
    assert CREDENTIAL not in viewer and "team-7f3" not in viewer
    assert "Authorization: <span" in viewer and MASK in viewer
    for role in (Role.EDITOR, Role.OWNER):
        page = client_as(role).get(f"{BASE}endpoints/{endpoint.pk}/").content.decode()
        assert f"Authorization: {CREDENTIAL}" in page and "X-Team: team-7f3" in page and MASK not in page, role


def test_viewers_cannot_open_the_edit_form_or_the_preview_which_show_values(viewer, guarded):
    endpoint, _ = guarded
    assert viewer.get(f"{BASE}endpoints/{endpoint.pk}/edit/").status_code == 403
    data = form_of(endpoint, endpoint_id=str(endpoint.pk), preview_type="product.created", preview_sample="{}")
    assert viewer.post(BASE + "endpoints/preview/", data).status_code == 403
    assert viewer.post(f"{BASE}endpoints/{endpoint.pk}/test/", {"event_type": "product.created"}).status_code == 403
    assert not Delivery.objects.exists()  # sending for real stays with editors


def test_attempt_request_headers_mask_the_endpoints_values_for_viewers(client_as, tenant, guarded):
    endpoint, _ = guarded
    now = timezone.now()
    event = Event.objects.create(tenant=tenant, event_id="e1", type="product.created", timestamp=now, data={}, received_at=now)
    delivery = Delivery.objects.create(tenant=tenant, event=event, endpoint=endpoint, url=endpoint.url, event_type=event.type,
                                       body=json.dumps({"id": "e1"}), status=DeliveryStatus.SUCCEEDED, created_at=now)
    Attempt.objects.create(delivery=delivery, started_at=now, status_code=200, request_headers={
        "Content-Type": "application/json", "Authorization": CREDENTIAL, "webhook-id": delivery.webhook_id,
        "webhook-signature": "v1,abc"})
    viewer = client_as(Role.VIEWER).get(f"{BASE}deliveries/{delivery.pk}/").content.decode()
    assert CREDENTIAL not in viewer and f"Authorization: {MASK}" in viewer
    assert f"webhook-id: {delivery.webhook_id}" in viewer and "webhook-signature: v1,abc" in viewer
    editor = client_as(Role.EDITOR).get(f"{BASE}deliveries/{delivery.pk}/").content.decode()
    assert f"Authorization: {CREDENTIAL}" in editor

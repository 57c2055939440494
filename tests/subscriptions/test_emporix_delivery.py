"""An Emporix configuration delivers as Emporix does: an entry gets its event type when its JsonPath filter holds,
with its excludedFields and signed with its secretKey (emporix-event-signature); the root destinationUrl gets the
subscribed types no entry names."""

import base64
import hashlib
import hmac
import json

import pytest

from subscriptions.delivery.worker import deliver_now
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_targets(settings):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True}


def drain():
    for _ in range(50):
        if not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists():
            return
        deliver_now()


def verifies(secret_key, request):
    stable = json.dumps(json.loads(request.body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = base64.b64encode(hmac.new(secret_key.encode(), stable.encode(), hashlib.sha256).digest()).decode()
    return request.headers.get("emporix-event-signature") == expected


def test_entries_filter_sign_and_exclude_and_the_root_gets_the_other_types(api, tenant, receiver):
    api.patch("/webhook/acme/event-subscriptions", [
        {"eventType": t, "action": "SUBSCRIBE", "fieldsToUnsubscribe": ["name"]} for t in ("product.created", "product.updated")
    ], format="json")
    body = {"code": "http", "provider": "HTTP", "active": True, "configuration": {
        "destinationUrl": receiver.url("/general"), "secretKey": "password123",
        "eventsConfiguration": [{"eventType": "PRODUCT.CREATED", "destinationUrl": receiver.url("/detailed"),
                                 "secretKey": "admin123", "filter": "$[?(@.code == 'abc')]", "excludedFields": []}],
    }}
    assert api.post("/webhook/acme/config", body, format="json").status_code == 201
    record_events(tenant, [
        IncomingEvent("product.created", {"id": "p1", "code": "abc", "name": {"en": "Chair"}}, id="e1"),
        IncomingEvent("product.created", {"id": "p2", "code": "xyz", "name": {"en": "Desk"}}, id="e2"),
        IncomingEvent("product.updated", {"id": "p3", "code": "abc", "name": {"en": "Lamp"}}, id="e3"),
    ])
    drain()
    by_path = {(r.path, json.loads(r.body)["data"]["id"]): r for r in receiver.received}
    assert set(by_path) == {("/detailed", "p1"), ("/general", "p3")}
    detailed, general = by_path[("/detailed", "p1")], by_path[("/general", "p3")]
    assert verifies("admin123", detailed) and verifies("password123", general)
    assert "webhook-signature" not in detailed.headers  # signed Emporix's way instead of Standard Webhooks
    # the entry's excludedFields [] overrides the subscription's ["name"]; the root keeps the subscription's
    assert json.loads(detailed.body)["data"]["name"] == {"en": "Chair"}
    assert "name" not in json.loads(general.body)["data"]


def test_an_inactive_entry_gets_nothing_and_the_root_does_not_take_its_type(api, tenant, receiver):
    api.patch("/webhook/acme/event-subscriptions", [{"eventType": "product.created", "action": "SUBSCRIBE"}], format="json")
    body = {"code": "http", "provider": "HTTP", "configuration": {
        "destinationUrl": receiver.url("/general"),
        "eventsConfiguration": [{"eventType": "PRODUCT.CREATED", "active": False}],
    }}
    api.post("/webhook/acme/config", body, format="json")
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="e1")])
    drain()
    assert receiver.received == [] and not Delivery.objects.exists()

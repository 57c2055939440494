"""payloadFormat end to end: each format recorded, sent, signed and read by the CloudEvents SDK, kept by retries and
replays, set over the API and shown by the preview (issue 17). The shaping itself is unit-tested in
test_payload_formats.py."""

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from subscriptions.delivery.worker import deliver_now
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tests.subscriptions.test_payload_formats import CODEX, OPENREGISTER, parse_cloudevent


def subscribe(tenant, key, excluded=()):
    assert apply_subscription_change(tenant, SubscriptionChange(key, "SUBSCRIBE", fields_to_unsubscribe=tuple(excluded))).ok


def drain(timeout=10):
    deadline = time.monotonic() + timeout
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists() and time.monotonic() < deadline:
        if not deliver_now():
            time.sleep(0.05)


@pytest.fixture
def private_targets(settings):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True}


@pytest.mark.django_db
def test_openregister_with_payload_format_data_arrives_as_sent(tenant, receiver, private_targets):
    subscribe(tenant, "ObjectUpdatedEvent")
    endpoint, secret = create_endpoint(tenant, {"url": receiver.url(), "events": ["Object*"], "payload_format": "data"})
    record_events(tenant, [IncomingEvent("ObjectUpdatedEvent", OPENREGISTER)])
    drain()
    [request] = receiver.received
    assert json.loads(request.body) == OPENREGISTER
    assert request.headers["content-type"] == "application/json"
    Webhook(secret).verify(request.body, request.headers)  # signatures unchanged


@pytest.mark.django_db
def test_cloudevents_are_sent_with_their_content_type_signed_and_readable_by_the_sdk(tenant, receiver, private_targets):
    subscribe(tenant, "entry.insert", excluded=["organization"])
    endpoint, secret = create_endpoint(tenant, {"url": receiver.url(), "events": ["entry.*"], "payload_format": "cloudevents"})
    record_events(tenant, [IncomingEvent("entry.insert", CODEX, id="codex-1")])
    assert Delivery.objects.get().content_type == "application/cloudevents+json"
    drain()
    [request] = receiver.received
    assert request.headers["content-type"] == "application/cloudevents+json"
    Webhook(secret).verify(request.body, request.headers)
    event = parse_cloudevent(request.body, request.headers["content-type"])
    assert event.get_id() == "codex-1" and event.get_type() == "entry.insert" and event.get_source() == "/eventhub/acme/http"
    assert event.get_data() == {k: v for k, v in CODEX.items() if k != "organization"}


@pytest.mark.django_db
def test_a_retry_and_a_replay_keep_the_content_type_the_body_was_rendered_with(tenant, private_targets):
    from subscriptions.delivery.actions import replay_endpoint
    from subscriptions.endpoints.services import update_endpoint

    subscribe(tenant, "entry.insert")
    endpoint, _ = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["entry.*"], "payload_format": "cloudevents"})
    record_events(tenant, [IncomingEvent("entry.insert", CODEX)])
    since = Delivery.objects.get().created_at
    update_endpoint(endpoint, {"payload_format": "envelope"}, version=endpoint.version)
    replay_endpoint(endpoint, since)
    assert {d.content_type for d in Delivery.objects.all()} == {"application/cloudevents+json"}


# --- the API, the preview ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_payload_format_over_the_api_defaults_to_envelope_and_is_validated(api):
    base = {"url": "https://hooks.example.com/a", "events": ["entry.*"]}
    created = api.post("/webhook/acme/endpoints", base, format="json").json()
    assert created["payloadFormat"] == "envelope"
    changed = api.patch(f"/webhook/acme/endpoints/{created['id']}", {"payloadFormat": "data", "metadata": {"version": 1}}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["payloadFormat"] == "data"
    bad = api.post("/webhook/acme/endpoints", {**base, "payloadFormat": "xml"}, format="json")
    assert bad.status_code == 400 and bad.json()["problems"][0]["field"] == "payloadFormat"


@pytest.mark.django_db
def test_preview_shows_the_body_and_content_type_of_the_endpoints_format(tenant, api):
    subscribe(tenant, "entry.insert")
    created = api.post("/webhook/acme/endpoints", {"url": "https://hooks.example.com/a", "events": ["entry.*"],
                                                   "payloadFormat": "cloudevents", "customPayload": {"Id": "/data/object/id"}}, format="json").json()
    answer = api.post(f"/webhook/acme/endpoints/{created['id']}/preview", {"eventType": "entry.insert", "data": CODEX}, format="json").json()
    assert answer["matches"] and answer["headers"]["Content-Type"] == "application/cloudevents+json"
    assert parse_cloudevent(answer["body"]).get_data() == {"Id": "ce9NGrW6Tl"}

"""payloadFormat: envelope (the default), data (the producer's body as sent) and cloudevents (CloudEvents 1.0,
structured mode), each after excludedFields and with or without customPayload (issue 17)."""

import json
import time

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks.webhooks import Webhook

from subscriptions.core.payloads import cloudevents_source, compile_custom_payload, shape_body
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.delivery.worker import deliver_now

CODEX = {"event": "insert", "model": "recipe", "organization": "codex",
         "object": {"id": "ce9NGrW6Tl", "title": "Pasta"}}
ENVELOPE = {"id": "evt-1", "type": "entry.insert", "timestamp": "2026-01-02T03:04:05.000Z", "tenant": "acme", "data": CODEX}
OPENREGISTER = {
    "event": "OCA\\OpenRegister\\Event\\ObjectUpdatedEvent",
    "newObject": {"id": 123, "uuid": "550e8400-e29b-41d4-a716-446655440000", "data": {"title": "John Doe (Updated)"}},
    "oldObject": {"id": 123, "uuid": "550e8400-e29b-41d4-a716-446655440000", "data": {"title": "John Doe"}},
}


def parse_cloudevent(body, content_type="application/cloudevents+json"):
    """What a receiver using the CloudEvents SDK reads from the request."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return from_http_event(HTTPMessage(headers={"content-type": content_type}, body=raw))


# --- shaping, pure ------------------------------------------------------------------------------------------------


def test_envelope_is_the_default_and_unchanged():
    assert shape_body(ENVELOPE, (), None) == ENVELOPE
    assert shape_body(ENVELOPE, (), compile_custom_payload({"Id": "/data/object/id"}), "envelope") == {"Id": "ce9NGrW6Tl"}


def test_data_sends_the_producers_body_as_it_came():
    assert shape_body(ENVELOPE, (), None, "data") == CODEX


def test_data_with_codexs_own_custom_payload_works_verbatim():
    assert shape_body(ENVELOPE, (), compile_custom_payload({"Id": "/object/id"}), "data") == {"Id": "ce9NGrW6Tl"}


def test_cloudevents_is_a_structured_cloudevent_the_sdk_reads():
    body = shape_body(ENVELOPE, (), None, "cloudevents", cloudevents_source("acme", "http"))
    event = parse_cloudevent(body)
    assert event.get_specversion() == "1.0" and event.get_id() == "evt-1" and event.get_type() == "entry.insert"
    assert event.get_source() == "/eventhub/acme/http" and event.get_datacontenttype() == "application/json"
    assert event.get_time().isoformat() == "2026-01-02T03:04:05+00:00"
    assert event.get_data() == CODEX


def test_cloudevents_data_is_the_custom_payload_rendered_against_the_envelope():
    body = shape_body(ENVELOPE, (), compile_custom_payload({"Id": "/data/object/id", "kind": "/type"}), "cloudevents")
    assert parse_cloudevent(body).get_data() == {"Id": "ce9NGrW6Tl", "kind": "entry.insert"}


@pytest.mark.parametrize("payload_format,custom", [
    ("envelope", None), ("envelope", {"leak": "/data/secretNotes"}),
    ("data", None), ("data", {"leak": "/secretNotes"}),
    ("cloudevents", None), ("cloudevents", {"leak": "/data/secretNotes"}),
])
def test_an_excluded_field_never_leaves_the_hub_in_any_format(payload_format, custom):
    envelope = {**ENVELOPE, "data": {**CODEX, "secretNotes": "never sent"}}
    body = shape_body(envelope, ("secretNotes",), compile_custom_payload(custom) if custom else None, payload_format)
    assert "never sent" not in json.dumps(body)
    if custom:
        assert "null" in json.dumps(body)  # the pointer finds nothing
    assert envelope["data"]["secretNotes"] == "never sent"  # the event itself is untouched


def test_cloudevents_sources_name_the_hub_the_tenant_and_the_way_in():
    assert cloudevents_source("acme", "http") == "/eventhub/acme/http"
    assert cloudevents_source("acme", "test") == "/eventhub/acme/test"
    assert cloudevents_source("a b/c", "broker", "5f0c") == "/eventhub/a%20b%2Fc/sources/5f0c"


# --- end to end: recorded, sent, signed -------------------------------------------------------------------------


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

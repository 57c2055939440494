"""payloadFormat: envelope (the default), data (the producer's body as sent) and cloudevents (CloudEvents 1.0,
structured mode), each after excludedFields and with or without customPayload (issue 17).

Pure unit tests of the shaping (in the mutation-testing selection, setup.cfg [mutmut]); recorded, sent and signed
through the database in test_payload_formats_sent.py."""

import json

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from subscriptions.core.payloads import cloudevents_source, compile_custom_payload, shape_body

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


def test_cloudevents_is_exactly_the_structured_event_with_the_http_way_in_by_default():
    assert shape_body(ENVELOPE, (), None, "cloudevents") == {
        "specversion": "1.0", "id": "evt-1", "source": "/eventhub/acme/http", "type": "entry.insert",
        "time": "2026-01-02T03:04:05.000Z", "datacontenttype": "application/json", "data": CODEX,
    }


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


def test_only_a_broker_source_with_an_id_is_named_by_its_id():
    assert cloudevents_source("acme", "broker") == "/eventhub/acme/broker"
    assert cloudevents_source("acme", "broker", "") == "/eventhub/acme/broker"
    assert cloudevents_source("acme", "http", "5f0c") == "/eventhub/acme/http"
    assert cloudevents_source("acme", "Broker", "5f0c") == "/eventhub/acme/Broker"

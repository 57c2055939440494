"""The hot paths' multi-row INSERTs (subscriptions/bulk.py): on PostgreSQL the rows travel as ONE JSON document the
server takes apart. What a stored event or delivery holds must be exactly what the ORM stores: every JSON value
(integers beyond 64 bits, which orjson does not write, included), datetimes to the microsecond, NULLs, and a text
too long for its column refused rather than cut."""

import json
import uuid
from datetime import datetime, timedelta, timezone as tz

import pytest
from django.db import DataError, connection, transaction

from subscriptions.bulk import insert_new, insert_rows
from subscriptions.core.jsontext import rows_json
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Attempt, Delivery, Event
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db

AWKWARD = {
    "big": 2**70, "negative": -(10**25), "float": 0.1, "tiny": 5e-324, "null": None, "nested": {"list": [1, None, "x"]},
    "text": "ä \u2028 \"quoted\" \\ tab\t", "emoji": "\U0001F600", "empty": {}, "true": True,
}


def test_rows_json_writes_what_orjson_refuses_with_the_standard_library():
    when, key = datetime(2026, 11, 30, 5, 6, 7, 890123, tzinfo=tz.utc), uuid.uuid4()
    plain = [[1, "a", when, key, {"k": None}]]
    assert json.loads(rows_json(plain)) == [[1, "a", when.isoformat(), str(key), {"k": None}]]
    big = [[2**70, when, key]]  # orjson raises TypeError on integers beyond 64 bits
    assert json.loads(rows_json(big)) == [[2**70, when.isoformat(), str(key)]]


def test_an_event_is_stored_exactly_as_it_came(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})
    stamp = datetime(2026, 11, 30, 5, 6, 7, 890123, tzinfo=tz.utc)
    record_events(tenant, [IncomingEvent("product.created", AWKWARD, id="e-1", timestamp=stamp,
                                         properties={"headers": {"x": 2**66}})])
    event = Event.objects.get(tenant=tenant, event_id="e-1")
    assert event.data == AWKWARD
    assert event.properties == {"headers": {"x": 2**66}}
    assert event.timestamp == stamp
    delivery = Delivery.objects.get(event=event)
    assert json.loads(delivery.body)["data"] == AWKWARD
    assert delivery.finished_at is None and delivery.order_key is None  # NULL stays NULL
    assert delivery.created_at == event.received_at  # to the microsecond


def test_insert_new_keeps_the_rows_order_and_skips_repeats(tenant):
    now = datetime.now(tz.utc)
    events = [Event.unsaved(tenant, f"e-{i}", "product.created", now, {"i": i}, "http", None, "", {}, now) for i in range(5)]
    with transaction.atomic():
        first = insert_new(Event, events[:3], ["tenant", "event_id"])
        again = insert_new(Event, events, ["tenant", "event_id"])
    assert [e.event_id for e in first] == ["e-0", "e-1", "e-2"]
    assert [e.event_id for e in again] == ["e-3", "e-4"]
    stored = list(Event.objects.filter(tenant=tenant).order_by("pk").values_list("event_id", "data"))
    assert stored == [(f"e-{i}", {"i": i}) for i in range(5)]


def test_insert_rows_stores_values_as_the_orm_does(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})
    record_events(tenant, [IncomingEvent("product.created", {"a": 1}, id="e-1")])
    delivery = Delivery.objects.get(event__event_id="e-1")
    started = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=tz.utc)
    fields = ("delivery", "started_at", "duration_ms", "request_headers", "status_code", "response_headers", "response_body", "error")
    with transaction.atomic():
        insert_rows(Attempt, fields, [(delivery.pk, started, 12.5, {"A": "1"}, 200, {"X-Big": 2**70}, "ok", ""),
                                      (delivery.pk, started + timedelta(seconds=1), 3.0, {}, None, {}, "", "refused")])
    first, second = Attempt.objects.filter(delivery=delivery).order_by("pk")
    assert (first.started_at, first.duration_ms, first.request_headers, first.status_code, first.response_headers) == (
        started, 12.5, {"A": "1"}, 200, {"X-Big": 2**70})
    assert (second.started_at, second.status_code, second.response_headers, second.error) == (
        started + timedelta(seconds=1), None, {}, "refused")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce a column's length")
def test_a_text_too_long_for_its_column_is_refused_not_cut(tenant):
    now = datetime.now(tz.utc)
    too_long = Event.unsaved(tenant, "x" * 201, "product.created", now, {}, "http", None, "", {}, now)
    with pytest.raises(DataError), transaction.atomic():
        insert_new(Event, [too_long], ["tenant", "event_id"])
    assert not Event.objects.filter(tenant=tenant).exists()

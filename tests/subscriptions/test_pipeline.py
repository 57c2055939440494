"""record_events: events and their deliveries in one transaction, idempotent ids, the routing rules in order."""

import json

import pytest
from django.db import IntegrityError
from django.utils import timezone

from subscriptions.pipeline import recording as pipeline
from subscriptions.endpoints.services import create_endpoint, update_endpoint
from subscriptions.models import Delivery, Endpoint, Event
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db


def subscribe(tenant, event_type, excluded=()):
    result = apply_subscription_change(tenant, SubscriptionChange(event_type, "SUBSCRIBE", fields_to_unsubscribe=tuple(excluded)))
    assert result.ok, result


def endpoint(tenant, url="https://hooks.example.com/a", **values):
    return create_endpoint(tenant, {"url": url, "events": ["product.*"], **values})[0]


def product(id_="p1", **data):
    return IncomingEvent("product.created", {"id": id_, "code": "C1", "description": "secret text", **data})


def bodies(tenant):
    return {d.url: json.loads(d.body) for d in Delivery.objects.filter(tenant=tenant)}


def test_a_subscribed_event_becomes_one_pending_delivery_per_matching_endpoint(tenant):
    subscribe(tenant, "product.created")
    a, b = endpoint(tenant), endpoint(tenant, "https://hooks.example.com/b", events=["product.created"])
    endpoint(tenant, "https://hooks.example.com/c", events=["order.*"])
    [result] = record_events(tenant, [product()])
    assert result.created and result.deliveries == 2
    assert {d.endpoint_id for d in Delivery.objects.all()} == {a.id, b.id}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    envelope = bodies(tenant)["https://hooks.example.com/a"]
    assert set(envelope) == {"id", "type", "timestamp", "tenant", "data"}
    assert envelope["type"] == "product.created" and envelope["tenant"] == "acme" and envelope["id"] == result.event_id


def test_an_event_the_tenant_is_not_subscribed_to_is_stored_but_delivered_nowhere(tenant):
    endpoint(tenant)
    [result] = record_events(tenant, [product()])
    assert result.created and result.deliveries == 0
    assert Event.objects.count() == 1 and not Delivery.objects.exists()


def test_the_same_id_twice_is_stored_once_and_delivered_once(tenant):
    subscribe(tenant, "product.created")
    endpoint(tenant)
    first = record_events(tenant, [IncomingEvent("product.created", {"id": 1}, id="evt-1")])
    again = record_events(tenant, [IncomingEvent("product.created", {"id": 2}, id="evt-1"), IncomingEvent("product.created", {}, id="evt-1")])
    assert first[0].created and [r.created for r in again] == [False, False]
    assert Event.objects.get().data == {"id": 1}
    assert Delivery.objects.count() == 1


def test_excluded_fields_never_leave_the_hub_even_through_a_pointer(tenant):
    subscribe(tenant, "product.created", excluded=["description"])
    endpoint(tenant)
    endpoint(tenant, "https://hooks.example.com/b", custom_payload={"Id": "/data/id", "leak": "/data/description"})
    record_events(tenant, [product()])
    sent = bodies(tenant)
    assert "description" not in sent["https://hooks.example.com/a"]["data"]
    assert sent["https://hooks.example.com/b"] == {"Id": "p1", "leak": None}


def test_an_endpoints_own_excluded_fields_never_leave_the_hub_beside_an_endpoint_without_them(tenant):
    """Endpoint-level excludedFields (an Emporix configuration entry's) beside an endpoint that gets everything: each
    body is shaped for its own endpoint, however the event's bodies are shared."""
    subscribe(tenant, "product.created")
    endpoint(tenant)
    own = endpoint(tenant, "https://hooks.example.com/b")
    Endpoint.objects.filter(pk=own.pk).update(excluded_fields=["description"])
    record_events(tenant, [product()])
    sent = bodies(tenant)
    assert sent["https://hooks.example.com/a"]["data"]["description"] == "secret text"
    assert "description" not in sent["https://hooks.example.com/b"]["data"]


def test_the_filter_sees_the_full_event_before_exclusion(tenant):
    subscribe(tenant, "product.created", excluded=["description"])
    endpoint(tenant, event_filter={"data.description": "secret text"})
    endpoint(tenant, "https://hooks.example.com/b", event_filter={"data.code": {"$ne": "C1"}})
    record_events(tenant, [product()])
    assert list(bodies(tenant)) == ["https://hooks.example.com/a"]


def test_disabled_endpoints_get_nothing_and_changes_are_seen_at_once(tenant):
    subscribe(tenant, "product.created")
    ep = endpoint(tenant)
    update_endpoint(ep, {"enabled": False}, ep.version)
    assert record_events(tenant, [product("p1")])[0].deliveries == 0
    ep.refresh_from_db()
    update_endpoint(ep, {"enabled": True}, ep.version)
    assert record_events(tenant, [product("p2")])[0].deliveries == 1


def test_a_batch_is_all_or_nothing(tenant, monkeypatch):
    subscribe(tenant, "product.created")
    endpoint(tenant)
    # the database refuses the second delivery (a webhook id is unique) after the events and the first are written
    monkeypatch.setattr(pipeline, "new_webhook_id", lambda: "msg_the_same")
    with pytest.raises(IntegrityError):
        record_events(tenant, [product("p1"), product("p2")])
    assert not Event.objects.exists() and not Delivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_events_recorded_fires_with_the_new_events_after_commit(tenant):
    seen = []

    def receiver(sender, tenant, events, deliveries, **kwargs):
        seen.append(sorted(e.event_id for e in events))

    pipeline.events_recorded.connect(receiver)
    try:
        record_events(tenant, [IncomingEvent("product.created", {}, id="e1"), IncomingEvent("product.created", {}, id="e2")])
        record_events(tenant, [IncomingEvent("product.created", {}, id="e1")])  # a repeat announces nothing
    finally:
        pipeline.events_recorded.disconnect(receiver)
    assert seen == [["e1", "e2"]]


def test_tenants_never_reach_each_others_endpoints(tenant, other_tenant):
    subscribe(tenant, "product.created")
    subscribe(other_tenant, "product.created")
    endpoint(other_tenant)
    assert record_events(tenant, [product()])[0].deliveries == 0


def test_an_event_built_by_position_holds_every_value_where_keyword_arguments_put_it(tenant):
    from datetime import datetime, timedelta, timezone

    sent = datetime(2026, 11, 1, tzinfo=timezone.utc)
    values = {"event_id": "e1", "type": "product.created", "timestamp": sent, "data": {"id": "p1"}, "origin": "broker",
              "source_id": None, "routing_key": "a.b", "properties": {"type": "x"}, "received_at": sent + timedelta(seconds=1)}
    fast, usual = Event.unsaved(tenant, **values), Event(tenant=tenant, **values)
    assert [getattr(fast, f.attname) for f in Event._meta.concrete_fields] == [getattr(usual, f.attname) for f in Event._meta.concrete_fields]
    assert {k: v for k, v in vars(fast).items() if k != "_state"} == {k: v for k, v in vars(usual).items() if k != "_state"}
    assert (fast._state.adding, fast._state.fields_cache) == (usual._state.adding, usual._state.fields_cache)
    assert fast.tenant is tenant and fast.pk is None and fast._state.adding
    fast.save()
    assert Event.objects.get(pk=fast.pk).received_at == values["received_at"]


def test_an_event_built_by_position_still_tells_the_receivers_of_init_signals(tenant):
    """Event.unsaved skips Model.__init__ only while nothing listens to pre_init or post_init for Event."""
    from django.db.models.signals import post_init

    heard = []

    def receiver(sender, instance, **kwargs):
        heard.append(instance.event_id)

    post_init.connect(receiver, sender=Event)
    try:
        made = Event.unsaved(tenant, "e2", "product.created", timezone.now(), {}, "http", None, "", {}, timezone.now())
    finally:
        post_init.disconnect(receiver, sender=Event)
    assert heard == ["e2"] and made.tenant is tenant

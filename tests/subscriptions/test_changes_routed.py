"""Change-aware routing end to end: recorded update events carry `changed`, endpoints filter on $changed, preview
and the live monitor show it (issue 17). The pure rules are unit-tested in test_changes.py."""

import json

import pytest

from subscriptions.delivery.actions import preview_delivery
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tests.subscriptions.test_changes import entry_updated


def subscribe(tenant, key):
    assert apply_subscription_change(tenant, SubscriptionChange(key, "SUBSCRIBE")).ok


@pytest.mark.django_db
def test_an_endpoint_filtered_on_changed_title_gets_title_changes_only(tenant):
    subscribe(tenant, "entryUpdated")
    titles, _ = create_endpoint(tenant, {"url": "https://hooks.example.com/titles", "events": ["entryUpdated"],
                                         "event_filter": {"$changed": ["title"]}})
    everything, _ = create_endpoint(tenant, {"url": "https://hooks.example.com/all", "events": ["entryUpdated"]})
    record_events(tenant, [
        IncomingEvent("entryUpdated", entry_updated({"title": "B", "n": 1}, {"title": "A", "n": 1}), id="title-changed"),
        IncomingEvent("entryUpdated", entry_updated({"title": "A", "n": 2}, {"title": "A", "n": 1}), id="n-changed"),
    ])
    got = {(d.endpoint_id, d.event.event_id): json.loads(d.body) for d in Delivery.objects.select_related("event")}
    assert set(got) == {(titles.id, "title-changed"), (everything.id, "title-changed"), (everything.id, "n-changed")}
    assert got[(titles.id, "title-changed")]["changed"] == ["title"]
    assert got[(everything.id, "n-changed")]["changed"] == ["n"]


@pytest.mark.django_db
def test_events_of_types_without_a_pair_have_no_changed_key(tenant):
    subscribe(tenant, "entryCreated")
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["entryCreated"]})
    record_events(tenant, [IncomingEvent("entryCreated", entry_updated({"title": "B"}, {}))])
    assert "changed" not in json.loads(Delivery.objects.get().body)


@pytest.mark.django_db
def test_a_tenant_type_declares_its_pair_through_the_api_and_its_events_carry_changed(tenant, api):
    response = api.post("/webhook/acme/event-types", {
        "type": "invoice.updated", "name": "Invoice updated", "group": "Billing",
        "eventSchema": {"invoice": "Object", "previous": "Object"}, "changes": {"new": "invoice", "old": "previous"},
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["changes"] == {"new": "invoice", "old": "previous"}
    bad = api.post("/webhook/acme/event-types", {"type": "x.updated", "name": "x", "group": "x", "changes": {"new": "a"}}, format="json")
    assert bad.status_code == 400 and bad.json()["problems"][0]["field"] == "changes"

    subscribe(tenant, "invoice.updated")
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["invoice.*"], "event_filter": {"$changed": ["total"]}})
    [result] = record_events(tenant, [IncomingEvent("invoice.updated", {"invoice": {"total": 12}, "previous": {"total": 10}})])
    assert result.deliveries == 1 and json.loads(Delivery.objects.get().body)["changed"] == ["total"]


@pytest.mark.django_db
def test_preview_shows_changed_for_update_events(tenant, api):
    subscribe(tenant, "ObjectUpdatedEvent")
    endpoint, _ = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["ObjectUpdatedEvent"],
                                           "event_filter": {"$changed": ["data.title"]}})
    preview = preview_delivery(endpoint, "ObjectUpdatedEvent")  # the catalog example: title and email changed
    assert preview.matches and preview.envelope["changed"] == ["data.email", "data.title", "updated"]
    answer = api.post(f"/webhook/acme/endpoints/{endpoint.id}/preview", {"eventType": "ObjectUpdatedEvent"}, format="json").json()
    assert answer["changed"] == ["data.email", "data.title", "updated"] and answer["body"]["changed"] == answer["changed"]
    assert "changed" not in api.post(f"/webhook/acme/endpoints/{endpoint.id}/preview", {"eventType": "ObjectCreatedEvent"}, format="json").json()


@pytest.mark.django_db
def test_the_live_monitor_shows_changed_for_update_events(tenant, monkeypatch, django_capture_on_commit_callbacks):
    from monitor import receivers

    published = []
    monkeypatch.setattr(receivers.broadcast, "publish", lambda name, message: published.append(message))
    monkeypatch.setattr(receivers.broadcast, "heard", lambda: True)  # someone watches
    with django_capture_on_commit_callbacks(execute=True):
        record_events(tenant, [IncomingEvent("entryUpdated", entry_updated({"title": "B"}, {"title": "A"})),
                               IncomingEvent("entryCreated", entry_updated({"title": "B"}, {}))])
    by_type = {m["type"]: m for m in published if m["kind"] == "ingested"}
    assert by_type["entryUpdated"]["changed"] == ["title"] and "changed" not in by_type["entryCreated"]

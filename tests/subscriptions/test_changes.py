"""Change-aware routing: update events carry `changed`, and eventFilter's $changed routes on it (issue 17)."""

import json

import pytest

from subscriptions.catalog import builtin_change_pairs, builtin_definitions
from subscriptions.core.changes import ChangePair, change_pair_problem, changed_paths, changes_of
from subscriptions.core.conditions import FilterError, compile_filter
from subscriptions.core.payloads import compile_custom_payload, shape_body
from subscriptions.delivery.actions import preview_delivery
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

# Where the seeds put the new and the old object of every update event that has both (000: entrecode, 004:
# OpenRegister). Data managers and models carry no old values ("old values are not available on update events").
SEED_PAIRS = {
    "entryUpdated": ("data", "oldEntryData"),
    "assetUpdated": ("updatedValues", "oldValues"),
    "assetgroupUpdated": ("updatedValues", "oldValues"),
    "ObjectUpdatedEvent": ("newObject", "oldObject"),
    "RegisterUpdatedEvent": ("newRegister", "oldRegister"),
    "SchemaUpdatedEvent": ("newSchema", "oldSchema"),
    "ApplicationUpdatedEvent": ("newApplication", "oldApplication"),
    "AgentUpdatedEvent": ("newAgent", "oldAgent"),
    "SourceUpdatedEvent": ("newSource", "oldSource"),
    "ConfigurationUpdatedEvent": ("newConfiguration", "oldConfiguration"),
    "ViewUpdatedEvent": ("newView", "oldView"),
    "ConversationUpdatedEvent": ("newConversation", "oldConversation"),
    "OrganisationUpdatedEvent": ("newOrganisation", "oldOrganisation"),
}


def entry_updated(new, old, **extra):
    return {"entryID": "e1", "modelTitle": "article", "shortID": "035af82b", "data": new, "oldEntryData": old, **extra}


# --- the diff -------------------------------------------------------------------------------------------------


def test_the_issue_example_only_the_title_changed():
    data = entry_updated({"title": "B", "n": 1}, {"title": "A", "n": 1})
    assert changes_of(data, ChangePair("data", "oldEntryData")) == ["title"]


def test_nested_objects_are_compared_leaf_by_leaf_and_paths_are_dotted_and_sorted():
    new = {"price": {"amount": 12, "currency": "EUR"}, "meta": {"seo": {"title": "x"}}, "b": 1}
    old = {"price": {"amount": 10, "currency": "EUR"}, "meta": {"seo": {"title": "y"}}, "b": 1}
    assert changed_paths(new, old) == ["meta.seo.title", "price.amount"]


def test_lists_are_compared_whole():
    assert changed_paths({"tags": ["a", "b"]}, {"tags": ["a", "c"]}) == ["tags"]
    assert changed_paths({"tags": [{"x": 1}]}, {"tags": [{"x": 1}]}) == []


def test_a_key_on_one_side_only_counts_as_changed_at_that_key():
    assert changed_paths({"a": 1, "price": {"amount": 1}}, {"a": 1, "gone": None}) == ["gone", "price"]


def test_values_compare_as_json_types():
    assert changed_paths({"n": 1, "ok": True, "s": "1"}, {"n": 1.0, "ok": 1, "s": 1}) == ["ok", "s"]


def test_an_object_replaced_by_a_scalar_changes_at_its_own_path():
    assert changed_paths({"price": 5}, {"price": {"amount": 5}}) == ["price"]


def test_a_missing_or_non_object_side_counts_as_empty():
    pair = ChangePair("newObject", "oldObject")
    assert changes_of({"newObject": {"id": 1, "data": {"t": "x"}}}, pair) == ["data", "id"]
    assert changes_of({"newObject": {"id": 1}, "oldObject": None}, pair) == ["id"]
    assert changes_of({}, pair) == []


@pytest.mark.parametrize("spec,problem", [
    ({"new": "data"}, "A change pair"),
    ({"new": "data", "old": "data"}, "different"),
    ({"new": "a..b", "old": "c"}, "new:"),
    ({"new": "a", "old": 3}, "old:"),
])
def test_bad_change_pairs_say_why(spec, problem):
    assert problem in change_pair_problem(spec)


# --- the pairs the catalog declares -----------------------------------------------------------------------------


def test_the_catalog_declares_exactly_the_pairs_of_the_seeds():
    assert {key: tuple(pair) for key, pair in builtin_change_pairs().items()} == SEED_PAIRS


@pytest.mark.parametrize("key", sorted(SEED_PAIRS))
def test_every_declared_pair_finds_what_changed_in_an_event_shaped_like_the_seed(key):
    new_at, old_at = SEED_PAIRS[key]
    example = builtin_definitions()[key]["example"] or {}
    data = {**example, new_at: {"id": 123, "data": {"title": "John Doe (Updated)", "email": "a@example.com"}},
            old_at: {"id": 123, "data": {"title": "John Doe", "email": "a@example.com"}}}
    assert changes_of(data, builtin_change_pairs()[key]) == ["data.title"]


def test_created_and_deleted_entries_no_longer_claim_to_tell_what_changed():
    for key in ("entryCreated", "entryDeleted"):
        assert "changed" not in builtin_definitions()[key]["description"]["en"]


# --- $changed -------------------------------------------------------------------------------------------------


def holds(spec, changed):
    envelope = {"type": "entryUpdated", "data": {"title": "B"}}
    if changed is not None:
        envelope["changed"] = changed
    return compile_filter(spec).matches(envelope)


@pytest.mark.parametrize("patterns,changed,expected", [
    (["title"], ["title"], True),
    (["title"], ["n"], False),
    (["title"], ["titles"], False),
    (["price"], ["price.amount"], True),  # a prefix selects what lies below it
    (["price.amount"], ["price"], True),  # the whole price changed, so its amount did
    (["price.*"], ["price.amount"], True),
    (["price.*"], ["price.amount.cents"], True),
    (["price.*"], ["prices.amount"], False),
    (["*.amount"], ["price.amount"], True),
    (["*.amount"], ["price.currency"], False),
    (["title", "price.*"], ["n", "price.currency"], True),
    (["title"], [], False),
    (["title"], None, False),  # an event without a pair has no `changed`
])
def test_changed_selects_paths_with_wildcards_and_prefixes(patterns, changed, expected):
    assert holds({"$changed": patterns}, changed) is expected


def test_changed_combines_with_or_not_and_field_conditions():
    price_or_title = {"$or": [{"$changed": ["price.*"]}, {"$changed": ["title"]}]}
    assert holds(price_or_title, ["price.amount"]) and holds(price_or_title, ["title"]) and not holds(price_or_title, ["n"])
    not_only_noise = {"$not": {"$changed": ["meta.*", "modified"]}}
    assert holds(not_only_noise, ["title"]) and not holds(not_only_noise, ["meta.seo"])
    assert holds(not_only_noise, None)  # nothing known to have changed: $not holds
    mixed = {"$and": [{"$changed": ["title"]}, {"data.title": "B"}]}
    assert holds(mixed, ["title"]) and not compile_filter(mixed).matches({"data": {"title": "C"}, "changed": ["title"]})


def test_changed_is_an_envelope_path_for_field_conditions_too():
    assert holds({"changed": {"$contains": "title"}}, ["n", "title"])
    assert not holds({"changed": {"$contains": "title"}}, ["n"])
    assert holds({"data.changed": {"$exists": False}}, ["title"])  # a data field named `changed` is still reachable


@pytest.mark.parametrize("spec,path", [
    ({"$changed": "title"}, "$changed"),
    ({"$changed": []}, "$changed"),
    ({"$changed": ["title", ""]}, "$changed[1]"),
    ({"$changed": ["a..b"]}, "$changed[0]"),
    ({"$changed": ["pri*ce"]}, "$changed[0]"),
    ({"$or": [{"x": 1}, {"$changed": [3]}]}, "$or[1].$changed[0]"),
    ({"$changed": ["a"] * 65}, "$changed"),
])
def test_a_bad_changed_is_refused_naming_the_path(spec, path):
    with pytest.raises(FilterError) as error:
        compile_filter(spec)
    assert error.value.path == path


def test_custom_payload_can_point_at_changed():
    envelope = {"id": "e", "type": "entryUpdated", "timestamp": "t", "tenant": "acme", "data": {"entryID": "e1"}, "changed": ["title"]}
    body = shape_body(envelope, (), compile_custom_payload({"entry": "/data/entryID", "changed": "/changed"}))
    assert body == {"entry": "e1", "changed": ["title"]}


# --- end to end ---------------------------------------------------------------------------------------------------


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
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "changes"

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

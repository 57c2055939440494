"""Broker sources API and dead letters: validation, versioned changes, tenant isolation, scopes, listing, redrive."""

import json

import pytest

from subscriptions.core.messages import Message
from subscriptions.models import DeadLetter, Event, Source
from subscriptions.services import CONFLICT_MESSAGE, SubscriptionChange, apply_subscription_change
from subscriptions.broker.sources import dead_letter_row, store_dead_letters

pytestmark = pytest.mark.django_db

URL = "/webhook/acme/sources"
GOOD = {"name": "entrecode", "exchange": "publicAPI", "bindingKeys": ["035af82b.mymodel.*.entryCreated", "#.entryUpdated"]}


def create(api, **changes):
    response = api.post(URL, {**GOOD, **changes}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_applies_defaults_and_reads_back(api):
    body = create(api)
    assert body["exchangeType"] == "topic" and body["typeFrom"] == "property_or_routing_key" and body["enabled"] is True
    assert body["metadata"]["version"] == 1 and body["catchAllType"] == "" and body["typeField"] == ""
    assert api.get(f"{URL}/{body['id']}").json() == body
    assert api.get(URL).json() == [body]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"exchange": "has space"}, "exchange"),
        ({"exchange": "eventhub.dead"}, "exchange"),
        ({"exchange": ""}, "exchange"),
        ({"bindingKeys": []}, "bindingKeys"),
        ({"bindingKeys": ["a..b"]}, "bindingKeys"),
        ({"bindingKeys": ["a.b*"]}, "bindingKeys"),
        ({"bindingKeys": "#"}, "bindingKeys"),
        ({"bindingKeys": ["#"] * 51}, "bindingKeys"),
        ({"typeFrom": "header"}, "typeFrom"),
        ({"typeFrom": "body_field"}, "typeField"),
        ({"typeField": "kind"}, "typeField"),
        ({"catchAllType": "no.such.type"}, "catchAllType"),
        ({"exchangeType": "headers"}, "exchangeType"),
        ({"unknown": 1}, "unknown"),
        ({"name": 5}, "name"),
    ],
)
def test_invalid_sources_are_400_with_the_field_and_nothing_is_stored(api, changes, field):
    response = api.post(URL, {**GOOD, **changes}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == 400 and body["status"] == "Bad Request"
    assert any(d["field"].startswith(field) for d in body["problems"]), body
    assert not Source.objects.exists()


def test_catch_all_may_be_a_built_in_or_the_tenants_own_type(api):
    assert create(api, catchAllType="entryCreated")["catchAllType"] == "entryCreated"
    api.post("/webhook/acme/event-types", {"type": "acme.other", "name": "Other", "group": "Misc"}, format="json")
    assert create(api, name="second", catchAllType="acme.other")["catchAllType"] == "acme.other"


def test_patch_needs_the_current_version_and_a_stale_one_is_409_changing_nothing(api):
    body = create(api)
    ok = api.patch(f"{URL}/{body['id']}", {"enabled": False, "metadata": {"version": 1}}, format="json")
    assert ok.status_code == 200 and ok.json()["enabled"] is False and ok.json()["metadata"]["version"] == 2
    for stale in ({"metadata": {"version": 1}}, {}):
        response = api.patch(f"{URL}/{body['id']}", {"description": "changed", **stale}, format="json")
        assert response.status_code == 409 and response.json()["message"] == CONFLICT_MESSAGE
    assert Source.objects.get().description == "" and Source.objects.get().version == 2


def test_patch_validates_the_merged_source(api):
    body = create(api)
    response = api.patch(f"{URL}/{body['id']}", {"typeFrom": "body_field", "metadata": {"version": 1}}, format="json")
    assert response.status_code == 400 and response.json()["problems"][0]["field"] == "typeField"
    ok = api.patch(f"{URL}/{body['id']}", {"typeFrom": "body_field", "typeField": "meta.type", "metadata": {"version": 1}}, format="json")
    assert ok.status_code == 200 and ok.json()["typeField"] == "meta.type"


def test_a_duplicate_name_is_409(api):
    create(api)
    response = api.post(URL, GOOD, format="json")
    assert response.status_code == 409 and "exists already" in response.json()["message"]


def test_delete_removes_and_then_404(api):
    body = create(api)
    assert api.delete(f"{URL}/{body['id']}").status_code == 204
    assert api.get(f"{URL}/{body['id']}").status_code == 404
    assert api.get(f"{URL}/not-a-uuid").status_code == 404


def test_tenants_see_and_touch_only_their_own_sources(api, other_tenant, api_client_for):
    body = create(api)
    other = api_client_for(other_tenant)
    assert other.get("/webhook/globex/sources").json() == []
    assert other.get(f"/webhook/globex/sources/{body['id']}").status_code == 404
    assert other.delete(f"/webhook/globex/sources/{body['id']}").status_code == 404
    assert other.get(URL).status_code == 403
    assert Source.objects.count() == 1


def test_scopes_read_and_manage(tenant, api_client_for):
    reader = api_client_for(tenant, "webhook.source_read")
    assert reader.get(URL).status_code == 200 and reader.get("/webhook/acme/dead-letters").status_code == 200
    refused = reader.post(URL, GOOD, format="json")
    assert refused.status_code == 403 and "webhook.source_manage" in refused.json()["message"]
    assert api_client_for(tenant, "webhook.endpoint_read").get(URL).status_code == 403


# --- dead letters ---------------------------------------------------------------------------

ENTRY = {"entryID": "e1", "shortID": "035af82b", "modelTitle": "mymodel"}


def dead(tenant, source=None, reason="unknown event type 'entryCreated' and the source has no catch-all type", body=ENTRY, **props):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    message = Message("publicAPI", "035af82b.mymodel.e1.entryCreated", raw, {"messageId": "m-1", "contentType": "application/json", **props})
    [row] = store_dead_letters([dead_letter_row(message, reason, tenant.id, source.id if source else None)])
    return row


def test_dead_letters_are_listed_newest_first_paginated_and_per_tenant(api, tenant, other_tenant):
    rows = [dead(tenant, reason=f"reason {i}") for i in range(5)]
    dead(other_tenant)
    response = api.get("/webhook/acme/dead-letters?pageSize=2&pageNumber=2")
    assert response.status_code == 200 and response["X-Total-Count"] == "5"
    assert [d["id"] for d in response.json()] == [rows[2].id, rows[1].id]
    first = api.get("/webhook/acme/dead-letters").json()[0]
    assert first["reason"] == "reason 4" and first["routingKey"] == "035af82b.mymodel.e1.entryCreated" and json.loads(first["body"]) == ENTRY
    for bad in ("pageSize=0", "pageSize=201", "pageNumber=x"):
        assert api.get(f"/webhook/acme/dead-letters?{bad}").status_code == 400


def test_redrive_after_the_source_exists_records_the_event_once(api, tenant):
    source = create(api, bindingKeys=["#.entryUpdated"])
    row = dead(tenant, Source.objects.get(pk=source["id"]))
    url = f"/webhook/acme/dead-letters/{row.id}/redrive"
    refused = api.post(url)
    assert refused.status_code == 400 and "no enabled source matches" in refused.json()["message"]
    assert not Event.objects.exists() and DeadLetter.objects.get().redriven_at is None
    api.patch(f"{URL}/{source['id']}", {"bindingKeys": ["#"], "metadata": {"version": 1}}, format="json")
    apply_subscription_change(tenant, SubscriptionChange("entryCreated", "SUBSCRIBE"))
    ok = api.post(url)
    assert ok.status_code == 200, ok.content
    assert ok.json()["eventId"] == "m-1" and ok.json()["created"] is True and ok.json()["deadLetter"]["redrivenAt"]
    event = Event.objects.get()
    assert event.type == "entryCreated" and event.data == ENTRY and event.origin == "broker" and str(event.source_id) == source["id"]
    repeat = api.post(url).json()
    assert repeat["created"] is False and Event.objects.count() == 1
    assert repeat["deadLetter"]["redrivenAt"] == ok.json()["deadLetter"]["redrivenAt"]  # still when it became the event


def test_redrive_of_an_unusable_body_or_another_tenants_letter_is_refused(api, tenant, other_tenant):
    create(api)
    not_utf8 = dead(tenant, reason="body is not UTF-8 (byte 0)", body=b"\xff{}")
    assert "not UTF-8" in api.post(f"/webhook/acme/dead-letters/{not_utf8.id}/redrive").json()["message"]
    foreign = dead(other_tenant)
    assert api.post(f"/webhook/acme/dead-letters/{foreign.id}/redrive").status_code == 404
    assert api.post("/webhook/acme/dead-letters/99999999999999999999999/redrive").status_code == 404
    assert not Event.objects.exists()

"""HTTP ingest and the event log: idempotent ids, all-or-nothing batches, exact error details, scopes, isolation."""

import json

import pytest

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, Event
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db

URL = "/webhook/acme/events"


@pytest.fixture
def routed(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]


def post(api, body):
    return api.post(URL, body, format="json")


def test_one_event_is_accepted_with_its_id_and_deliveries(api, routed):
    response = post(api, {"type": "product.created", "id": "evt-1", "data": {"id": "p1"}, "timestamp": "2026-01-31T12:00:00.000Z"})
    assert response.status_code == 202
    assert response.json() == [{"id": "evt-1", "created": True, "deliveries": 1}]
    event = Event.objects.get()
    assert event.data == {"id": "p1"} and event.timestamp.isoformat() == "2026-01-31T12:00:00+00:00"
    assert Delivery.objects.get().endpoint_id == routed.pk


def test_an_event_without_id_gets_one(api, routed):
    (result,) = post(api, {"type": "product.created", "data": {}}).json()
    assert result["created"] and Event.objects.get().event_id == result["id"]


def test_the_same_id_twice_is_stored_once(api, routed):
    body = [{"type": "product.created", "id": "evt-1", "data": {"n": 1}}, {"type": "product.created", "id": "evt-1", "data": {"n": 2}}]
    assert [r["created"] for r in post(api, body).json()] == [True, False]
    again = post(api, {"type": "product.created", "id": "evt-1", "data": {"n": 3}})
    assert again.status_code == 202 and again.json() == [{"id": "evt-1", "created": False, "deliveries": 0}]
    assert Event.objects.get().data == {"n": 1} and Delivery.objects.count() == 1


def test_a_batch_with_one_bad_item_is_refused_whole_naming_index_and_field(api, routed):
    body = [{"type": "product.created", "data": {}}] * 3 + [{"type": "no.such.type", "data": []}]
    response = post(api, body)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == 400 and error["status"] == "Bad Request"
    assert {(d["field"], d["message"].split(" ")[0]) for d in error["problems"]} == {("[3].type", "Unknown"), ("[3].data", "Must")}
    assert Event.objects.count() == 0 and Delivery.objects.count() == 0


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"type": "product.created", "data": "x"}, "data"),
        ({"type": "product.created"}, "data"),
        ({"data": {}}, "type"),
        ({"type": "product.created", "data": {}, "id": "has space"}, "id"),
        ({"type": "product.created", "data": {}, "id": "x" * 201}, "id"),
        ({"type": "product.created", "data": {}, "id": "é"}, "id"),
        ({"type": "product.created", "data": {}, "timestamp": "yesterday"}, "timestamp"),
        ({"type": "product.created", "data": {}, "timestamp": "2026-01-31T12:00:00"}, "timestamp"),
        ({"type": "product.created", "data": {}, "extra": 1}, "extra"),
    ],
)
def test_bad_events_are_refused_naming_the_field(api, routed, item, field):
    response = post(api, item)
    assert response.status_code == 400 and response.json()["problems"][0]["field"] == field, response.json()
    assert Event.objects.count() == 0


def test_batch_size_and_body_size_are_bounded(api, routed, settings):
    settings.EVENTHUB = {"MAX_BATCH_ITEMS": 2, "MAX_BODY_BYTES": 1024}
    too_many = post(api, [{"type": "product.created", "data": {}}] * 3)
    assert too_many.status_code == 400 and "at most 2" in too_many.json()["message"]
    too_big = post(api, {"type": "product.created", "data": {"x": "y" * 2000}})
    assert too_big.status_code == 400 and "larger than 1024 bytes" in too_big.json()["message"]
    assert post(api, []).status_code == 400 and post(api, "text").status_code == 400
    assert Event.objects.count() == 0


def test_the_event_log_lists_recent_events_with_deliveries_paged_and_filtered(api, routed):
    post(api, [{"type": "product.created", "id": f"e{i}", "data": {"i": i}} for i in range(3)])
    post(api, {"type": "product.deleted", "id": "d1", "data": {}})
    listed = api.get(URL).json()
    assert [e["id"] for e in listed][:1] == ["d1"] and len(listed) == 4
    created = api.get(URL, {"type": "product.created", "pageSize": 2}).json()
    assert len(created) == 2 and created[0]["deliveries"][0]["status"] == "pending"
    assert created[0]["deliveries"][0]["endpoint"] == str(routed.pk)
    assert len(api.get(URL, {"type": "product.created", "pageSize": 2, "pageNumber": 2}).json()) == 1
    assert api.get(URL, {"pageSize": 1000}).status_code == 400


@pytest.mark.parametrize("query", ["pageSize=0", "pageSize=201", "pageSize=", "pageNumber=0", "pageNumber=10001",
                                   "pageNumber=x", "pageSize=%C2%B2", "pageNumber=%D9%A1"])
def test_a_page_parameter_that_is_not_a_whole_number_in_range_is_a_400_naming_it(api, query):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["problems"][0]["field"] == query.split("=")[0]


def test_a_page_past_the_end_is_an_empty_list_without_a_total(api, routed):
    post(api, {"type": "product.created", "id": "e1", "data": {}})
    response = api.get(URL, {"pageSize": 1, "pageNumber": 2})
    assert response.status_code == 200 and response.json() == [] and "X-Total-Count" not in response


def test_scopes_and_tenants_are_enforced(tenant, other_tenant, api_client_for, routed):
    reader = api_client_for(tenant, "webhook.event_read")
    assert reader.post(URL, {"type": "product.created", "data": {}}, format="json").status_code == 403
    publisher = api_client_for(tenant, "webhook.event_publish")
    assert publisher.post(URL, {"type": "product.created", "data": {}}, format="json").status_code == 202
    assert publisher.get(URL).status_code == 403
    assert reader.get(URL).status_code == 200
    stranger = api_client_for(other_tenant)
    assert stranger.post(URL, {"type": "product.created", "data": {}}, format="json").status_code == 403
    assert stranger.get("/webhook/globex/events").json() == []
    assert Event.objects.filter(tenant=other_tenant).count() == 0
    assert json.loads(reader.get(URL).content)[0]["type"] == "product.created"

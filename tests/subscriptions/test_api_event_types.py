"""Custom event types: a tenant registers its own types, subscribes to them, and never touches built-ins."""

import pytest

pytestmark = pytest.mark.django_db

TYPES = "/webhook/acme/event-types"
CUSTOM = {
    "type": "invoice.paid",
    "name": {"en": "Invoice paid", "de": "Rechnung bezahlt"},
    "group": "Billing",
    "description": "An invoice was paid in full.",
    "eventSchema": {"id": "String", "amount": "Number", "lines": "Array"},
    "example": {"id": "inv-1", "amount": 12.5, "lines": []},
}


def test_a_custom_type_can_be_registered_listed_and_subscribed_to(api):
    response = api.post(TYPES, CUSTOM, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["group"] == {"en": "Billing"} and response.json()["builtIn"] is False

    item = next(i for i in api.get("/webhook/acme/event-subscriptions").json() if i["event"]["type"] == "invoice.paid")
    assert item["subscription"] == "NONE" and item["event"]["eventSchema"]["amount"] == "Number"
    result = api.patch(
        "/webhook/acme/event-subscriptions", [{"eventType": "invoice.paid", "action": "SUBSCRIBE", "fieldsToUnsubscribe": ["lines"]}], format="json"
    )
    assert result.json() == [{"eventType": "invoice.paid", "code": 200, "status": "OK"}]


def test_custom_types_are_private_to_their_tenant(api, other_tenant, api_client_for):
    api.post(TYPES, CUSTOM, format="json")
    globex = api_client_for(other_tenant)
    assert "invoice.paid" not in [t["type"] for t in globex.get("/webhook/globex/event-types").json()]
    result = globex.patch("/webhook/globex/event-subscriptions", [{"eventType": "invoice.paid", "action": "SUBSCRIBE"}], format="json")
    assert result.json()[0]["code"] == 404


def test_a_custom_type_cannot_shadow_a_builtin_or_an_existing_type(api):
    response = api.post(TYPES, {**CUSTOM, "type": "product.created"}, format="json")
    assert response.status_code == 409 and "already exists" in response.json()["message"]
    api.post(TYPES, CUSTOM, format="json")
    assert api.post(TYPES, CUSTOM, format="json").status_code == 409


def test_builtin_types_cannot_be_changed_or_deleted(api):
    assert api.delete(f"{TYPES}/product.created").status_code == 403
    assert api.put(f"{TYPES}/product.created", CUSTOM, format="json").status_code == 403
    assert api.get(f"{TYPES}/product.created").json()["builtIn"] is True


@pytest.mark.parametrize(
    "change, field",
    [
        ({"type": "has space"}, "type"),
        ({"eventSchema": {"id": "Text"}}, "eventSchema.id"),
        ({"name": {"english": "x"}}, "name"),
        ({"name": 5}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_custom_type_is_400_naming_the_field(api, change, field):
    response = api.post(TYPES, {**CUSTOM, **change}, format="json")
    assert response.status_code == 400
    assert field in [d["field"] for d in response.json()["problems"]]
    assert api.get(f"{TYPES}/invoice.paid").status_code == 404


def test_update_and_delete_a_custom_type(api):
    api.post(TYPES, CUSTOM, format="json")
    response = api.put(f"{TYPES}/invoice.paid", {**CUSTOM, "name": "Paid"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == {"en": "Paid"}
    assert api.delete(f"{TYPES}/invoice.paid").status_code == 204
    assert api.get(f"{TYPES}/invoice.paid").status_code == 404


def test_creating_types_needs_the_eventtype_manage_scope(tenant, api_client_for):
    response = api_client_for(tenant, "webhook.subscription_read", "webhook.subscription_manage").post(TYPES, CUSTOM, format="json")
    assert response.status_code == 403 and "webhook.eventtype_manage" in response.json()["message"]


def test_the_catalog_api_shows_routing_key_forms_app_ids_and_change_pairs(api):
    types = {t["type"]: t for t in api.get(TYPES).json()}
    assert types["entryCreated"]["routingKey"] == "{shortID}.{modelTitle}.{entryID}.entryCreated"
    assert types["cmd.startTask"]["appId"] == "ec.tasks-api" and types["permissionsUpdated"]["appId"] == "ecAuth"
    assert types["entryUpdated"]["changes"] == {"new": "data", "old": "oldEntryData"}
    assert types["entryCreated"]["changes"] is None and types["product.created"]["routingKey"] is None

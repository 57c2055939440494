"""Every answer is rendered by the output serializer the OpenAPI schema is generated from (subscriptions/api/outputs.py):
what a client reads is what the schema promises, key for key, nested objects included."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from subscriptions.broker.sources import create_source, dead_letter_row, store_dead_letters
from subscriptions.core.messages import Message
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def components():
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


def resolve(schema, components):
    """The component a property's schema points at ($ref, or allOf of one $ref), or None for a plain schema."""
    ref = schema.get("$ref") or next((part["$ref"] for part in schema.get("allOf", ()) if "$ref" in part), None)
    return components[ref.rsplit("/", 1)[1]] if ref else None


def assert_matches(body, component, components, where="answer"):
    """Every key of `body` is a property of the component, every required property is in `body`; the same for each
    nested object the schema describes by a component."""
    properties = component["properties"]
    assert set(body) <= set(properties), f"{where}: keys the schema does not name: {set(body) - set(properties)}"
    missing = set(component.get("required", ())) - set(body)
    assert not missing, f"{where}: required by the schema but not answered: {missing}"
    for key, value in body.items():
        nested = resolve(properties[key], components)
        if nested is not None and "properties" in nested and isinstance(value, dict) and value:
            assert_matches(value, nested, components, f"{where}.{key}")


def test_endpoints_answer_as_the_schema_says(api, components):
    created = api.post("/webhook/acme/endpoints", {"url": "https://hooks.example.com/a", "events": ["product.*"],
                                                     "headers": {"X-Team": "t"}}, format="json").json()
    assert "secret" in created
    assert_matches(created, components["EndpointOutput"], components)
    [listed] = api.get("/webhook/acme/endpoints").json()
    assert "secret" not in listed
    assert_matches(listed, components["EndpointOutput"], components)
    rotated = api.post(f"/webhook/acme/endpoints/{created['id']}/rotate-secret").json()
    assert_matches(rotated, components["EndpointOutput"], components)


def test_sources_event_types_and_subscriptions_answer_as_the_schema_says(api, tenant, components):
    source = api.post("/webhook/acme/sources", {"name": "shop", "exchange": "shop.events", "bindingKeys": ["#"]},
                      format="json").json()
    assert_matches(source, components["Source"], components)
    custom = api.post("/webhook/acme/event-types", {"type": "my.thing", "name": "Thing", "group": "Mine"}, format="json").json()
    for event_type in [custom, *api.get("/webhook/acme/event-types").json()]:
        assert_matches(event_type, components["EventType"], components, event_type["type"])
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    items = api.get("/webhook/acme/event-subscriptions").json()
    assert {item["subscription"] for item in items} == {"SUBSCRIBED", "NONE"}
    for item in items:
        assert_matches(item, components["EventSubscription"], components, item["event"]["type"])


def test_deliveries_previews_replays_and_redrives_answer_as_the_schema_says(api, tenant, components):
    endpoint = api.post("/webhook/acme/endpoints", {"url": "https://hooks.example.com/a",
                                                    "events": ["product.*", "entryCreated", "ObjectUpdatedEvent"]}, format="json").json()
    apply_subscription_change(tenant, SubscriptionChange("product.updated", "SUBSCRIBE"))
    record_events(tenant, [IncomingEvent("product.updated", {"id": "p1"})])
    [delivery] = api.get("/webhook/acme/deliveries").json()
    assert_matches(delivery, components["Delivery"], components)
    preview = api.post(f"/webhook/acme/endpoints/{endpoint['id']}/preview", {"eventType": "ObjectUpdatedEvent"}, format="json").json()
    assert "changed" in preview  # the type declares a change pair
    assert_matches(preview, components["DeliveryPreview"], components)
    replay = api.post(f"/webhook/acme/endpoints/{endpoint['id']}/replay?since=2000-01-01T00:00:00Z").json()
    assert_matches(replay, components["ReplayResult"], components)

    source = create_source(tenant, {"name": "cms", "exchange": "publicAPI", "binding_keys": ["#"]})
    apply_subscription_change(tenant, SubscriptionChange("entryCreated", "SUBSCRIBE"))
    message = Message("publicAPI", "035af82b.mymodel.e1.entryCreated", json.dumps({"id": "e1"}).encode(), {"messageId": "m-1"})
    [letter] = store_dead_letters([dead_letter_row(message, "stored before the source existed", tenant.id, source.id)])
    redriven = api.post(f"/webhook/acme/dead-letters/{letter.id}/redrive")
    assert redriven.status_code == 200, redriven.content
    assert_matches(redriven.json(), components["RedriveResult"], components)

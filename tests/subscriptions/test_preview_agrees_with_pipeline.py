"""Preview tells the truth: for every case, "would this endpoint get it" and the body it shows are what the pipeline
then records for the same event (both go through RoutingIndex.route; preview once had its own copy of the rules)."""

import datetime as dt
import json

import pytest

from subscriptions.delivery.actions import preview_delivery
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, Endpoint
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db

HOSTILE_FILTER = {"$or": [{"data.name": {"$regex": "(a|aa)+$"}} for _ in range(120)]}
NOW = dt.datetime(2026, 5, 4, 12, 0, 0, 123000, tzinfo=dt.timezone.utc)
DATA = {"id": "p1", "name": "Lamp", "description": "internal", "productType": "lamp"}

# name: (subscription action or None, fields to unsubscribe, endpoint values, data, pipeline outcome)
#   outcome: "sent" (a pending delivery), "none" (no delivery), "undecided" (a failed delivery, never sent)
CASES = {
    "subscribed, pattern hit": ("SUBSCRIBE", (), {}, DATA, "sent"),
    "exact key hit": ("SUBSCRIBE", (), {"events": ["product.created"]}, DATA, "sent"),
    "unsubscribed": ("UNSUBSCRIBE", (), {}, DATA, "none"),
    "no subscription at all": (None, (), {}, DATA, "none"),
    "pattern miss": ("SUBSCRIBE", (), {"events": ["order.*", "entryCreated"]}, DATA, "none"),
    "filter hit": ("SUBSCRIBE", (), {"event_filter": {"data.productType": "lamp"}}, DATA, "sent"),
    "filter miss": ("SUBSCRIBE", (), {"event_filter": {"data.productType": "chair"}}, DATA, "none"),
    "filter on an excluded field still sees it": (
        "SUBSCRIBE", ("description",), {"event_filter": {"data.description": "internal"}}, DATA, "sent"),
    "excluded fields": ("SUBSCRIBE", ("description", "name"), {}, DATA, "sent"),
    "custom payload": ("SUBSCRIBE", (), {"custom_payload": {"Id": "/data/id", "kind": "/type", "when": "/timestamp"}}, DATA, "sent"),
    "custom payload cannot reach an excluded field": (
        "SUBSCRIBE", ("description",), {"custom_payload": {"Id": "/data/id", "leak": "/data/description"}}, DATA, "sent"),
    "disabled endpoint": ("SUBSCRIBE", (), {"enabled": False, "disabled_reason": "too many failures"}, DATA, "none"),
    "disabled and unsubscribed": ("UNSUBSCRIBE", (), {"enabled": False}, DATA, "none"),
    "filter undecided within the budget": ("SUBSCRIBE", (), {"hostile": True}, {**DATA, "name": "a" * 30000 + "!"}, "undecided"),
}


@pytest.mark.parametrize("case", CASES)
def test_preview_and_the_pipeline_agree(tenant, settings, case):
    action, unsubscribed_fields, values, data, outcome = CASES[case]
    settings.EVENTHUB = {**settings.EVENTHUB, "MATCHING_BUDGET_MS": 50}
    if action:
        assert apply_subscription_change(tenant, SubscriptionChange("product.created", action, fields_to_unsubscribe=unsubscribed_fields)).ok
    values = dict(values)
    hostile = values.pop("hostile", False)
    endpoint, _ = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"], **values})
    if hostile:  # stored past save validation, as one saved before the limits were
        Endpoint.objects.filter(pk=endpoint.pk).update(event_filter=HOSTILE_FILTER)
        endpoint.refresh_from_db()

    preview = preview_delivery(endpoint, "product.created", data, now=NOW)
    [recorded] = record_events(tenant, [IncomingEvent("product.created", data, id="e-1", timestamp=NOW)])

    deliveries = list(Delivery.objects.filter(endpoint=endpoint))
    assert preview.matches == (outcome == "sent") == (recorded.deliveries == 1)
    assert preview.matches or preview.reasons
    if outcome == "none":
        assert deliveries == []
        return
    [delivery] = deliveries
    assert delivery.status == ("pending" if outcome == "sent" else "failed")
    # the very body the pipeline stored, up to the event id (a preview's is its own)
    assert json.loads(preview.body.replace(preview.envelope["id"], "e-1")) == json.loads(delivery.body)
    if outcome == "undecided":
        assert any("could not be decided" in reason for reason in preview.reasons)


def test_the_reasons_name_each_rule_the_event_fails(tenant):
    endpoint, _ = create_endpoint(
        tenant, {"url": "https://hooks.example.com/a", "events": ["order.*"], "event_filter": {"data.productType": "chair"}}
    )
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    endpoint.refresh_from_db()
    reasons = preview_delivery(endpoint, "product.created", DATA).reasons
    assert reasons == [
        "The endpoint is disabled.",
        "The tenant is not subscribed to 'product.created'.",
        "None of the endpoint's events (order.*) selects 'product.created'.",
        "The eventFilter does not match this event.",
    ]

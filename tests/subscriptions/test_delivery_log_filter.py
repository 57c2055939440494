"""The delivery log filters mean the same in the API and the dashboard (one selector): type patterns as endpoints
spell them, status, endpoint, and a created_at window."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.selectors import deliveries_log
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.models import Role
from tenants.services import add_member, ensure_user

pytestmark = pytest.mark.django_db

TYPES = ["product.created", "product.deleted", "entryCreated"]


def member(tenant):
    user, _ = ensure_user("vera")
    add_member(tenant, user, Role.VIEWER)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def logged(tenant):
    for key in TYPES:
        assert apply_subscription_change(tenant, SubscriptionChange(key, "SUBSCRIBE")).ok
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["*"]})
    record_events(tenant, [IncomingEvent(key, {}) for key in TYPES])
    return {d.event_type: d for d in Delivery.objects.all()}


@pytest.mark.parametrize("pattern, expected", [
    ("product.created", {"product.created"}),
    ("product.*", {"product.created", "product.deleted"}),
    ("*Created", {"entryCreated"}),
    ("*.*ed", {"product.created", "product.deleted"}),
    ("*", set(TYPES)),
])  # fmt: skip
def test_a_type_pattern_selects_what_the_same_endpoint_pattern_would(tenant, logged, pattern, expected, api):
    assert {d.event_type for d in deliveries_log(tenant, event_type=pattern)} == expected
    assert {d["event"]["type"] for d in api.get("/webhook/acme/deliveries", {"eventType": pattern}).json()} == expected
    page = member(tenant).get("/t/acme/deliveries/", {"type": pattern}).context["page"]
    assert {d.event_type for d in page.object_list} == expected


def test_until_bounds_the_window_in_the_api_as_in_the_dashboard(tenant, logged, api):
    Delivery.objects.filter(pk=logged["entryCreated"].pk).update(created_at=timezone.now() - timedelta(days=2))
    until = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert [d["event"]["type"] for d in api.get("/webhook/acme/deliveries", {"until": until}).json()] == ["entryCreated"]
    assert [d.event_type for d in deliveries_log(tenant, until=timezone.now() - timedelta(days=1))] == ["entryCreated"]

"""Routing follows every change at once, whoever writes it: the routing cache keys on one per-tenant version that
every writer bumps (model signals and the routing querysets), not on rows' modified_at, which the admin never moved."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Endpoint, EventSubscription, EventType, RoutingVersion
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.pipeline.routing import routing_index
from subscriptions.pipeline.routing_version import routing_version
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.models import Tenant
from tenants.services import ensure_user

pytestmark = pytest.mark.django_db

DATA = {"id": "p1", "name": "Lamp", "description": "internal", "productType": "lamp"}


def deliveries(tenant, data=DATA):
    """How many deliveries one new event gets now (through the cached routing index, as ingest does)."""
    [recorded] = record_events(tenant, [IncomingEvent("product.created", data)])
    return recorded.deliveries


@pytest.fixture
def routed(tenant):
    """A subscribed type and an endpoint selecting it, with the routing index cached."""
    assert apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE")).ok
    endpoint, _ = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})
    assert deliveries(tenant) == 1
    return endpoint


def admin_client():
    user, _ = ensure_user("root", "pw-123456!", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def admin_change(client, subscription, **changes):
    """POST the admin's change form for the subscription, every other field as it is (modified_at untouched)."""
    local = timezone.localtime
    form = {
        "tenant": subscription.tenant_id,
        "event_type": subscription.event_type_id,
        "state": subscription.state,
        "excluded_fields": json.dumps(subscription.excluded_fields),
        "version": subscription.version,
        "created_at_0": local(subscription.created_at).strftime("%Y-%m-%d"),
        "created_at_1": local(subscription.created_at).strftime("%H:%M:%S.%f"),
        "modified_at_0": local(subscription.modified_at).strftime("%Y-%m-%d"),
        "modified_at_1": local(subscription.modified_at).strftime("%H:%M:%S.%f"),
        **changes,
    }
    response = client.post(f"/admin/subscriptions/eventsubscription/{subscription.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_unsubscribing_in_the_django_admin_stops_deliveries_at_once(tenant, routed):
    subscription = EventSubscription.objects.get(tenant=tenant)
    modified_at = subscription.modified_at
    admin_change(admin_client(), subscription, state="UNSUBSCRIBED")
    subscription.refresh_from_db()
    assert subscription.state == "UNSUBSCRIBED" and subscription.modified_at == modified_at  # the admin left it as it was
    assert deliveries(tenant) == 0


def test_excluding_a_field_in_the_django_admin_changes_the_next_body(tenant, routed):
    admin_change(admin_client(), EventSubscription.objects.get(tenant=tenant), excluded_fields='["description"]')
    assert deliveries(tenant) == 1
    assert "description" not in json.loads(routed.deliveries.latest("created_at").body)["data"]


WRITERS = {
    "queryset update (the worker disabling an endpoint)": lambda t, e: Endpoint.objects.filter(pk=e.pk).update(enabled=False),
    "save()": lambda t, e: (setattr(e, "events", ["order.*"]), e.save()),
    "save(update_fields=...)": lambda t, e: (setattr(e, "enabled", False), e.save(update_fields=["enabled"])),
    "bulk_update": lambda t, e: (setattr(e, "event_filter", {"data.productType": "chair"}), Endpoint.objects.bulk_update([e], ["event_filter"])),
    "endpoint delete()": lambda t, e: e.delete(),
    "subscription delete()": lambda t, e: EventSubscription.objects.filter(tenant=t).delete(),
    "subscription queryset update": lambda t, e: EventSubscription.objects.filter(tenant=t).update(state="UNSUBSCRIBED"),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_every_way_of_writing_changes_routing_at_once(tenant, routed, writer):
    WRITERS[writer](tenant, routed)
    assert deliveries(tenant) == 0


def test_deleting_a_tenants_own_event_type_takes_its_subscription_and_its_routes_with_it(tenant):
    EventType.objects.create(tenant=tenant, key="acme.thing", source="custom")
    assert apply_subscription_change(tenant, SubscriptionChange("acme.thing", "SUBSCRIBE")).ok
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["acme.*"]})
    index = routing_index(tenant)
    assert index.candidates("acme.thing")
    EventType.objects.get(key="acme.thing").delete()
    assert routing_index(tenant) is not index and not routing_index(tenant).candidates("acme.thing")


def test_writes_routing_never_reads_keep_the_cached_index(tenant, routed):
    index = routing_index(tenant)
    Endpoint.objects.filter(pk=routed.pk).update(failing_since=timezone.now(), modified_at=timezone.now())
    routed.description = "the catalog team's hook"
    routed.save(update_fields=["description"])
    assert routing_index(tenant) is index


def test_the_version_is_one_lookup_and_changes_with_each_write(tenant, routed, django_assert_num_queries):
    before = routing_version(tenant)
    with django_assert_num_queries(1):
        routing_index(tenant)
    Endpoint.objects.filter(pk=routed.pk).update(url="https://hooks.example.com/b")
    assert routing_version(tenant) not in (None, before)


def test_deleting_a_tenant_takes_its_version_with_it(tenant, routed):
    assert RoutingVersion.objects.filter(tenant=tenant).exists()
    Tenant.objects.get(pk=tenant.pk).delete()
    connection.check_constraints()  # no version row left pointing at the deleted tenant
    assert not RoutingVersion.objects.exists()

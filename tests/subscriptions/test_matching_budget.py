"""One tenant's eventFilters cannot stall the hub: matching costs at most a budget per event, and runs outside the
write transaction, so another tenant's ingest never waits behind it (on SQLite that transaction locks the database)."""

import threading
import time

import pytest
from django.db import connection

from subscriptions.broker.ingest import Delivered, RulesCache, ingest_batch
from subscriptions.core.messages import Message
from subscriptions.endpoints.services import create_endpoint
from subscriptions.core.matching import RoutingIndex
from subscriptions.models import Delivery, Endpoint, Event
from subscriptions.pipeline.recording import IncomingEvent, record_events, route_events, store_routed_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.broker.sources import create_source

HOSTILE_FILTER = {"$or": [{"data.x": {"$regex": "(a|aa)+$"}} for _ in range(120)]}  # the filter
EVIL_TEXT = "a" * 30000 + "!"


def subscribe(tenant, event_type="product.created"):
    assert apply_subscription_change(tenant, SubscriptionChange(event_type, "SUBSCRIBE")).ok


def endpoint(tenant, name, **values):
    return create_endpoint(tenant, {"url": f"https://hooks.example.com/{name}", "events": ["product.*"], **values})[0]


def hostile_endpoint(tenant):
    """An endpoint with the issue's filter, stored past save validation (as one saved before the limits were)."""
    hostile = endpoint(tenant, "hostile")
    Endpoint.objects.filter(pk=hostile.pk).update(event_filter=HOSTILE_FILTER)
    return hostile


@pytest.mark.django_db
def test_the_filters_of_one_event_share_one_budget_and_the_undecided_endpoint_gets_a_failed_delivery(tenant, settings):
    settings.EVENTHUB = {**settings.EVENTHUB, "MATCHING_BUDGET_MS": 50}
    subscribe(tenant)
    hostile = hostile_endpoint(tenant)
    plain = endpoint(tenant, "plain", event_filter={"data.kind": "evil"})
    started = time.thread_time()
    results = record_events(tenant, [IncomingEvent("product.created", {"x": EVIL_TEXT, "kind": "evil"}) for _ in range(3)])
    assert time.thread_time() - started < 2.0  # was 18 s: 120 regexes x 50 ms, for each of three events
    assert [r.deliveries for r in results] == [1, 1, 1]
    assert set(Delivery.objects.filter(endpoint=plain).values_list("status", flat=True)) == {"pending"}
    undecided = Delivery.objects.filter(endpoint=hostile)
    assert undecided.count() == 3
    for delivery in undecided:
        assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == ("failed", 0, None)
        assert "could not be decided within the 50 ms" in delivery.last_error
    # An ordinary value decides the same filter at once: no "a...a" at the end, so no match, no delivery.
    [ordinary] = record_events(tenant, [IncomingEvent("product.created", {"x": "b", "kind": "other"})])
    assert ordinary.deliveries == 0 and Delivery.objects.count() == 6


@pytest.mark.django_db
def test_an_endpoint_deleted_between_routing_and_storing_gets_no_delivery(tenant):
    subscribe(tenant)
    kept, deleted = endpoint(tenant, "kept"), endpoint(tenant, "deleted")
    routed = route_events(tenant, [IncomingEvent("product.created", {"id": "p1"})])
    deleted.delete()
    [result] = store_routed_events(routed)
    assert result.created and result.deliveries == 1
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [kept.pk]


@pytest.mark.django_db
def test_an_id_stored_before_routing_or_meanwhile_is_neither_stored_nor_delivered_twice(tenant):
    subscribe(tenant)
    endpoint(tenant, "a")
    record_events(tenant, [IncomingEvent("product.created", {}, id="before")])
    routed = route_events(tenant, [IncomingEvent("product.created", {}, id="before"), IncomingEvent("product.created", {}, id="meanwhile")])
    record_events(tenant, [IncomingEvent("product.created", {}, id="meanwhile")])
    assert [r.created for r in store_routed_events(routed)] == [False, False]
    assert Event.objects.count() == 2 and Delivery.objects.count() == 2


@pytest.fixture
def held_matching(tenant, monkeypatch):
    """Matching of `tenant`'s events (acme) waits, once it has started, until `.release` is set: it stands in for
    matching that takes long, without depending on timing."""
    started, release = threading.Event(), threading.Event()
    route = RoutingIndex.route

    def held(self, envelope, *args, **kwargs):
        if envelope["tenant"] == tenant.name:
            started.set()
            release.wait(10)  # without the fix the other tenant waits all this time for the write lock
        return route(self, envelope, *args, **kwargs)

    monkeypatch.setattr(RoutingIndex, "route", held)
    return started, release


def in_thread(work, finished, name):
    def run():
        try:
            work()
            finished.append(name)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_another_tenants_ingest_does_not_wait_for_one_tenants_matching(tenant, other_tenant, held_matching):
    """On SQLite and PostgreSQL: the other tenant's record_events commits while acme's matching is still going."""
    started, release = held_matching
    for owner in (tenant, other_tenant):
        subscribe(owner)
        endpoint(owner, owner.name)
    finished = []
    slow = in_thread(lambda: record_events(tenant, [IncomingEvent("product.created", {"x": 1})]), finished, "acme")
    try:
        assert started.wait(10)
        [result] = record_events(other_tenant, [IncomingEvent("product.created", {"x": 2})])
        finished.append("globex")
    finally:
        release.set()
        slow.join(30)
    assert finished == ["globex", "acme"]
    assert result.created and result.deliveries == 1
    assert Delivery.objects.filter(tenant=tenant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_another_tenants_ingest_does_not_wait_for_matching_in_a_broker_batch(tenant, other_tenant, held_matching):
    started, release = held_matching
    create_source(tenant, {"name": "cms", "exchange": "cms", "binding_keys": ["#"]})
    for owner in (tenant, other_tenant):
        subscribe(owner)
        endpoint(owner, owner.name)
    message = Message("cms", "shop.product.created", b'{"x": 1}', {"type": "product.created", "messageId": "m-1"})
    finished = []
    slow = in_thread(lambda: ingest_batch([Delivered(1, message)], RulesCache()), finished, "acme")
    try:
        assert started.wait(10)
        record_events(other_tenant, [IncomingEvent("product.created", {"x": 2})])
        finished.append("globex")
    finally:
        release.set()
        slow.join(30)
    assert finished == ["globex", "acme"]
    assert Event.objects.filter(tenant=tenant, event_id="m-1").exists()
    assert Delivery.objects.count() == 2

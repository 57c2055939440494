"""Ordered delivery per key, in one process against the suite's database (SQLite or PostgreSQL): what recording gives
a delivery, and what the claim may take. The same rules across two `deliver` processes: test_ordered_workers.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.delivery.actions import replay_endpoint, retry_delivery
from subscriptions.delivery.claims import Sent, claim_due, record_results
from subscriptions.delivery.sender import SendResult
from subscriptions.delivery.worker import DeliveryWorker
from subscriptions.endpoints.services import create_endpoint, update_endpoint
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db
BY_ENTRY = {"key": "/data/entryID"}
T0 = timezone.now().replace(microsecond=0) - timedelta(hours=1)


def endpoint(tenant, ordering=BY_ENTRY, url="https://hooks.example.com/a"):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": url, "events": ["product.*"], "ordering": ordering})[0]


def publish(tenant, *events):
    """events: (event id, entryID or None, seconds after T0), recorded in this order (their arrival)."""
    record_events(tenant, [
        IncomingEvent("product.created", {"n": i} if key is None else {"entryID": key, "n": i}, id=event_id,
                      timestamp=T0 + timedelta(seconds=seconds))
        for i, (event_id, key, seconds) in enumerate(events)
    ])


def claimed(limit=100):
    jobs = claim_due(limit)
    names = dict(Delivery.objects.values_list("id", "event__event_id"))
    return sorted(names[job.delivery_id] for job in jobs), jobs


def answer(jobs, status_code):
    record_results([Sent(job, timezone.now(), {}, SendResult(status_code=status_code)) for job in jobs])


def status_of(event_id):
    return Delivery.objects.get(event__event_id=event_id).status


def test_recording_gives_an_ordered_endpoints_deliveries_the_key_and_the_event_time(tenant):
    ordered = endpoint(tenant)
    endpoint(tenant, ordering=None, url="https://hooks.example.com/b")
    publish(tenant, ("e1", "A-1", 5), ("e2", None, 6), ("e3", "x" * 100, 7))
    rows = {(d.endpoint_id == ordered.pk, d.event.event_id): (d.order_key, d.order_at) for d in Delivery.objects.select_related("event")}
    assert rows[True, "e1"] == ("A-1", T0 + timedelta(seconds=5))
    assert rows[True, "e2"] == (None, None)  # no value at the pointer: not ordered
    assert rows[True, "e3"][0].startswith("#") and len(rows[True, "e3"][0]) == 65  # a long value: its digest
    assert {value for (is_ordered, _), value in rows.items() if not is_ordered} == {(None, None)}


def test_a_claim_takes_the_first_of_each_key_and_every_unordered_delivery(tenant):
    endpoint(tenant)
    publish(tenant, ("a1", "A", 1), ("a2", "A", 2), ("b1", "B", 3), ("a3", "A", 4), ("u1", None, 5), ("b2", "B", 6), ("u2", None, 7))
    names, jobs = claimed()
    assert names == ["a1", "b1", "u1", "u2"]
    assert sorted(job.ordered for job in jobs) == [False, False, True, True]
    assert claimed()[0] == []  # a1 and b1 are in flight (leased): their keys wait
    answer(jobs, 200)
    assert claimed()[0] == ["a2", "b2"]


def test_event_order_is_the_timestamp_then_the_arrival(tenant):
    endpoint(tenant)
    publish(tenant, ("late", "A", 9), ("early", "A", 1), ("early-too", "A", 1), ("middle", "A", 5))
    sent = []
    for _ in range(4):
        names, jobs = claimed()
        assert len(names) == 1
        sent += names
        answer(jobs, 200)
    assert sent == ["early", "early-too", "middle", "late"]


def test_a_failing_delivery_holds_back_only_the_later_ones_of_its_key_until_given_up(tenant):
    endpoint(tenant)
    publish(tenant, ("a1", "A", 1), ("a2", "A", 2), ("b1", "B", 3), ("b2", "B", 4))
    names, jobs = claimed()
    assert names == ["a1", "b1"]
    answer([j for j in jobs if j.delivery_id == Delivery.objects.get(event__event_id="a1").pk], 503)
    answer([j for j in jobs if j.delivery_id == Delivery.objects.get(event__event_id="b1").pk], 200)
    assert status_of("a1") == DeliveryStatus.PENDING  # waiting for its retry
    assert claimed()[0] == ["b2"]  # the other key flows on; a2 waits behind a1
    Delivery.objects.filter(event__event_id="a1").update(next_attempt_at=timezone.now())  # its retry is due
    names, jobs = claimed()
    assert names == ["a1"]
    answer(jobs, 400)  # not retried: given up
    assert status_of("a1") == DeliveryStatus.FAILED
    assert claimed()[0] == ["a2"]  # a given-up delivery holds nothing back


def test_a_lease_that_ran_out_gives_the_key_back_to_the_same_delivery_not_the_next(tenant):
    endpoint(tenant)
    publish(tenant, ("a1", "A", 1), ("a2", "A", 2))
    assert claimed()[0] == ["a1"]
    Delivery.objects.filter(event__event_id="a1").update(lease_until=timezone.now() - timedelta(seconds=1))  # its worker died
    assert claimed()[0] == ["a1"]


def test_an_earlier_event_arriving_while_a_later_one_is_in_flight_waits_for_it(tenant):
    endpoint(tenant)
    publish(tenant, ("a5", "A", 5))
    names, jobs = claimed()
    publish(tenant, ("a1", "A", 1))  # earlier by its timestamp, but a5 is already being sent
    assert claimed()[0] == []
    answer(jobs, 200)
    assert claimed()[0] == ["a1"]


def test_a_retried_delivery_holds_its_key_again(tenant):
    endpoint(tenant)
    publish(tenant, ("a1", "A", 1))
    names, jobs = claimed()
    answer(jobs, 400)
    publish(tenant, ("a2", "A", 2), ("a3", "A", 3))
    retry_delivery(Delivery.objects.get(event__event_id="a1"))
    assert claimed()[0] == ["a1"]


def test_without_ordering_every_due_delivery_is_claimed_at_once(tenant):
    endpoint(tenant, ordering=None)
    publish(tenant, ("a1", "A", 1), ("a2", "A", 2), ("a3", "A", 3))
    names, jobs = claimed()
    assert names == ["a1", "a2", "a3"] and not any(job.ordered for job in jobs)
    assert set(Delivery.objects.values_list("order_key", "order_at")) == {(None, None)}


def test_ordering_set_later_orders_the_deliveries_recorded_from_then_on(tenant):
    unordered = endpoint(tenant, ordering=None)
    publish(tenant, ("a1", "A", 1), ("a2", "A", 2))
    update_endpoint(unordered, {"ordering": BY_ENTRY}, unordered.version)  # the routing cache follows its version
    publish(tenant, ("a3", "A", 3), ("a4", "A", 4))
    assert claimed()[0] == ["a1", "a2", "a3"]


def test_a_replay_is_ordered_by_the_endpoints_ordering_and_the_events_time(tenant):
    ordered = endpoint(tenant, ordering=None)
    publish(tenant, ("a1", "A", 1), ("a2", "A", 2), ("b1", "B", 3))
    answer(claim_due(100), 200)
    update_endpoint(ordered, {"ordering": BY_ENTRY}, ordered.version)
    ordered.refresh_from_db()
    assert replay_endpoint(ordered, T0 - timedelta(days=1)) == 3
    copies = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    assert sorted(copies.values_list("order_key", "order_at")) == [
        ("A", T0 + timedelta(seconds=1)), ("A", T0 + timedelta(seconds=2)), ("B", T0 + timedelta(seconds=3))]
    names, _ = claimed()
    assert names == ["a1", "b1"]


def test_a_worker_that_finishes_an_ordered_delivery_claims_from_the_start(tenant):
    """The worker claims on from where its last claim ended (delivery/worker.py); the next delivery of a key it
    has just finished lies below that, and is claimed in the same round trip, not after FULL_CLAIM_SECONDS."""
    endpoint(tenant)
    publish(tenant, ("a1", "A", 1), ("a2", "A", 2), *[(f"u{i}", None, 3 + i) for i in range(8)])
    worker = DeliveryWorker()
    first = worker._claim(3, ())
    names = dict(Delivery.objects.values_list("id", "event__event_id"))
    assert sorted(names[job.delivery_id] for job in first) == ["a1", "u0", "u1"]
    head = next(job for job in first if job.ordered)
    jobs, _ = worker._cycle([Sent(head, timezone.now(), {}, SendResult(status_code=200))], 2)
    assert sorted(names[job.delivery_id] for job in jobs) == ["a2", "u2"]

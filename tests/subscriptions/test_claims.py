"""The worker's claim on PostgreSQL: one statement, read from where its last claim ended, and still nothing lost."""

import pytest

from subscriptions.delivery.worker import DeliveryWorker
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def due(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})
    record_events(tenant, [IncomingEvent("product.created", {"n": n}, id=f"e{n}") for n in range(4)])
    return list(Delivery.objects.order_by("id").values_list("id", flat=True))


def test_claims_continue_past_the_last_one_and_a_short_one_also_looks_from_the_start(due):
    worker = DeliveryWorker()
    first = worker._claim(2, ())
    assert [job.delivery_id for job in first] == due[:2] and all(job.secrets for job in first)
    Delivery.objects.filter(pk=due[0]).update(lease_until=None)  # released: due again, below where the worker got to
    again = worker._claim(5, ())
    assert sorted(job.delivery_id for job in again) == [due[0], *due[2:]]
    assert worker._claim(5, ()) == []  # everything is leased


def test_a_disabled_endpoints_deliveries_fail_in_the_claim_with_the_reason(due, tenant):
    from subscriptions.models import Endpoint

    Endpoint.objects.update(enabled=False, disabled_reason="410 Gone")
    assert DeliveryWorker()._claim(10, ()) == []
    assert set(Delivery.objects.values_list("status", "last_error", "lease_until")) == {
        (DeliveryStatus.FAILED, "The endpoint is disabled: 410 Gone", None)}


def test_a_claims_lease_is_written_on_the_rows_own_page_without_new_index_entries(tenant):
    """Migration 0016 leaves room on each page of the delivery table: the lease (the claim's only change, in no
    index) is then a heap-only update for many rows at once, not a new entry in each of the table's indexes."""
    from django.db import connection

    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})
    record_events(tenant, [IncomingEvent("product.created", {"n": n, "text": "x" * 300}, id=f"e{n}") for n in range(200)])

    def hot_updates():
        with connection.cursor() as cursor:  # this transaction's own counts, exact (pytest-django wraps the test in one)
            cursor.execute("SELECT pg_stat_get_xact_tuples_hot_updated('subscriptions_delivery'::regclass)")
            return cursor.fetchone()[0]

    before = hot_updates()
    claimed = DeliveryWorker()._claim(200, ())
    assert len(claimed) == 200
    assert hot_updates() - before >= 50  # 68 of 200 here; at the default fillfactor (100), none

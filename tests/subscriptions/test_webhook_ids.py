"""The webhook-id: made with each Delivery row (every way one is created), unique across installations, not derived
from the row id, stable across the retries of one delivery, and what receivers verify the signature with."""

import re
import time
import uuid

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from subscriptions.delivery.actions import replay_endpoint, send_test_event
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus, Event
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.core.signing import new_message_uuid, new_webhook_id, webhook_id
from subscriptions.delivery.worker import deliver_now

pytestmark = pytest.mark.django_db

WEBHOOK_ID_RE = re.compile(r"^msg_[0-9a-hjkmnp-tv-z]{26}$")  # Crockford base32, lower case
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


@pytest.fixture(autouse=True)
def local_receivers(settings):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 0.1, 0.1]}


@pytest.fixture
def hook(tenant, receiver):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": receiver.url(), "events": ["product.*"], "timeout_seconds": 2})


def as_uuid(value):
    """The UUID a webhook-id encodes (the inverse of signing.webhook_id)."""
    number = 0
    for char in value.removeprefix("msg_"):
        number = number * 32 + CROCKFORD.index(char)
    return uuid.UUID(int=number)


def test_a_webhook_id_is_msg_and_a_uuidv7_in_26_base32_characters():
    before = time.time_ns() // 1_000_000
    made = new_webhook_id()
    after = time.time_ns() // 1_000_000
    assert WEBHOOK_ID_RE.match(made), made
    decoded = as_uuid(made)
    assert decoded.version == 7 and decoded.variant == uuid.RFC_4122
    assert before <= decoded.int >> 80 <= after  # its first 48 bits are the time it was made, in ms
    assert webhook_id(decoded) == made
    assert len({new_webhook_id() for _ in range(10_000)}) == 10_000


def test_a_webhook_id_encodes_every_bit_of_its_uuid():
    """Each of the 26 digits, and the 2 spare bits above the UUID's 128, at their extremes (the encoding reads the
    digits two at a time)."""
    edges = [0, 2**128 - 1, 1, 2**127, *(31 << shift for shift in range(0, 125, 5)), 7 << 125]
    for value in edges:
        made = webhook_id(uuid.UUID(int=value))
        assert len(made) == 30 and as_uuid(made).int == value, (value, made)
    assert webhook_id(uuid.UUID(int=2**128 - 1)) == "msg_7" + "z" * 25


def test_webhook_ids_sort_as_their_uuids_do():
    ids = [new_message_uuid() for _ in range(200)]
    assert sorted(ids, key=webhook_id) == sorted(ids)


def test_the_first_delivery_of_two_fresh_databases_gets_two_different_ids(tenant):
    """Two installations each start their rows at id 1; their first messages must still differ."""
    now = timezone.now()
    event = Event.objects.create(tenant=tenant, event_id="e1", type="product.created", timestamp=now, data={}, received_at=now)
    made = []
    for _ in range(2):
        with transaction.atomic():
            delivery = Delivery.objects.create(id=1, tenant=tenant, event=event, url="https://a.example.com", event_type="x",
                                               body="{}", created_at=now)
            made.append(Delivery.objects.get(pk=1).webhook_id)
            transaction.set_rollback(True)  # as if the database were new again
    assert delivery.pk == 1 and made[0] != made[1]
    assert all(WEBHOOK_ID_RE.match(m) and "1" != m.removeprefix("msg_") for m in made)


def test_every_way_a_delivery_is_created_gives_it_an_id_of_its_own(tenant, hook, receiver):
    endpoint, _ = hook
    create_endpoint(tenant, {"url": receiver.url("/second"), "events": ["product.created"]})
    # Several rows at once: on PostgreSQL this is the binary unnest() INSERT of subscriptions.bulk.
    record_events(tenant, [IncomingEvent("product.created", {"id": f"p{i}"}, id=f"evt-{i}") for i in range(3)])
    recorded = set(Delivery.objects.values_list("webhook_id", flat=True))
    assert len(recorded) == Delivery.objects.count() == 6
    assert replay_endpoint(endpoint, timezone.now() - timezone.timedelta(minutes=1)) == 3
    tested = send_test_event(endpoint, "product.created")
    ids = list(Delivery.objects.values_list("webhook_id", flat=True))
    assert len(ids) == len(set(ids)) == 10 and tested.webhook_id not in recorded
    assert all(WEBHOOK_ID_RE.match(i) for i in ids), ids


def test_retries_carry_the_same_id_and_it_verifies_with_standardwebhooks(tenant, hook, receiver, api):
    _, secret = hook
    answers = iter([(500, {}, "boom", 0), (503, {}, "busy", 0)])
    receiver.script = lambda r: next(answers, (200, {}, "ok", 0))
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
    deadline = time.monotonic() + 10
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists() and time.monotonic() < deadline:
        if not deliver_now():
            time.sleep(0.05)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(receiver.received) == 3
    assert {r.webhook_id for r in receiver.received} == {delivery.webhook_id}
    for request in receiver.received:
        assert Webhook(secret).verify(request.body, request.headers)["data"] == {"id": "p1"}
    assert [a.request_headers["webhook-id"] for a in delivery.attempts.all()] == [delivery.webhook_id] * 3
    shown = api.get("/webhook/acme/deliveries").json()[0]
    assert shown["webhookId"] == delivery.webhook_id == api.get(f"/webhook/acme/deliveries/{delivery.pk}").json()["webhookId"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_ids_existing_deliveries_were_sent_with(tenant):
    """Rows recorded before the upgrade keep "msg_<row id>", so a receiver recognises their retries."""
    executor = MigrationExecutor(connection)
    executor.migrate([("subscriptions", "0003_pipeline")])
    try:
        old = executor.loader.project_state([("subscriptions", "0003_pipeline")]).apps
        OldEvent, OldDelivery = old.get_model("subscriptions", "Event"), old.get_model("subscriptions", "Delivery")
        now = timezone.now()
        event = OldEvent.objects.create(tenant_id=tenant.pk, event_id="e1", type="x", timestamp=now, data={}, received_at=now)
        before = [OldDelivery.objects.create(tenant_id=tenant.pk, event=event, url="https://a.example.com", event_type="x",
                                             body="{}", created_at=now).pk for _ in range(3)]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    kept = dict(Delivery.objects.values_list("id", "webhook_id"))
    assert kept == {pk: f"msg_{pk}" for pk in before}
    fresh = Delivery.objects.create(tenant=tenant, event_id=event.pk, url="https://a.example.com", event_type="x", body="{}", created_at=now)
    assert WEBHOOK_ID_RE.match(fresh.webhook_id)

"""Operational events (subscriptions/operational.py): the hub's own eventhub.* events, emitted when their cause
happens, delivered signed to the endpoints that subscribed, never to the endpoint they are about, never for nobody."""

import json
import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from subscriptions import operational
from subscriptions.catalog import builtin_definitions
from subscriptions.delivery.worker import deliver_now
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import DeadLetter, Delivery, DeliveryStatus, Endpoint, Event
from subscriptions.operational import DEADLETTER_CREATED, DELIVERY_FAILED, ENDPOINT_DISABLED, ENDPOINT_FAILING, ENDPOINT_RECOVERED, TYPES
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.signals import AttemptOutcome, announce, endpoint_disabled, endpoint_failing, endpoint_recovered

pytestmark = pytest.mark.django_db

SHORT = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 0.2, 0.2], "MAX_RETRY_AFTER_SECONDS": 5}
OK = (200, {}, "ok", 0)


@pytest.fixture(autouse=True)
def short_schedule(settings):
    settings.EVENTHUB = dict(SHORT)


def subscribe(tenant, *keys):
    for key in keys:
        apply_subscription_change(tenant, SubscriptionChange(key, "SUBSCRIBE"))


def endpoint(tenant, receiver, path, events, **values):
    return create_endpoint(tenant, {"url": receiver.url(path), "events": events, "timeout_seconds": 1, **values})


@pytest.fixture
def hub(tenant, receiver):
    """/shop: the endpoint whose failures cause the events; /ops: an operator's endpoint listening to eventhub.*."""
    subscribe(tenant, "product.created", *TYPES)
    shop, _ = endpoint(tenant, receiver, "/shop", ["product.*"])
    ops, secret = endpoint(tenant, receiver, "/ops", ["eventhub.*"])
    receiver.script = lambda r: OK
    return SimpleNamespace(shop=shop, ops=ops, secret=secret)


def shop_answers(receiver, status):
    receiver.script = lambda r: (status, {}, "no", 0) if r.path == "/shop" else OK


def publish(tenant, *ids):
    return record_events(tenant, [IncomingEvent("product.created", {"id": i}, id=f"evt-{i}") for i in ids])


def drain(timeout=15):
    deadline = time.monotonic() + timeout
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists() and time.monotonic() < deadline:
        if not deliver_now():
            time.sleep(0.05)


def received(receiver, path, secret=None):
    """The bodies that reached `path`, each verified with `secret` (standardwebhooks raises on a bad signature); an
    operational event's data carries exactly the fields its catalog entry documents."""
    requests = [r for r in receiver.received if r.path == path]
    bodies = [Webhook(secret).verify(r.body, r.headers) if secret else json.loads(r.body) for r in requests]
    for body in bodies:
        if body.get("type", "").startswith("eventhub."):
            assert set(body["data"]) == set(builtin_definitions()[body["type"]]["event_schema"]), body["type"]
    return bodies


def operational_rows():
    return Event.objects.filter(type__startswith="eventhub.").count(), Delivery.objects.filter(event_type__startswith="eventhub.").count()


def test_a_given_up_delivery_emits_delivery_failed_signed_to_the_subscribed_endpoint(tenant, other_tenant, hub, receiver):
    subscribe(other_tenant, *TYPES)  # another tenant listening hears nothing of acme's trouble
    endpoint(other_tenant, receiver, "/ops-globex", ["eventhub.*"])
    shop_answers(receiver, 502)
    publish(tenant, "p1")
    drain()
    given_up = Delivery.objects.get(event_type="product.created")
    assert given_up.status == DeliveryStatus.FAILED
    [body] = received(receiver, "/ops", hub.secret)
    assert body["type"] == DELIVERY_FAILED and body["tenant"] == "acme"
    assert body["data"] == {
        "deliveryId": given_up.pk, "webhookId": given_up.webhook_id, "eventId": "evt-p1", "eventType": "product.created",
        "endpointId": str(hub.shop.pk), "url": hub.shop.url, "attempts": 3, "lastStatusCode": 502,
        "lastError": given_up.last_error, "failedAt": body["data"]["failedAt"],
    }
    assert "Gave up after 3 attempts" in body["data"]["lastError"]
    event = Event.objects.get(type=DELIVERY_FAILED)
    assert event.origin == "hub" and body["id"] == event.event_id
    assert all(r.path == "/shop" for r in receiver.received if r.path != "/ops")  # neither the shop nor globex
    assert not Event.objects.filter(tenant=other_tenant).exists()


def test_410_disables_the_endpoint_and_emits_endpoint_disabled_with_the_reason(tenant, hub, receiver):
    shop_answers(receiver, 410)
    publish(tenant, "p1")
    drain()
    shop = Endpoint.objects.get(pk=hub.shop.pk)
    assert not shop.enabled
    bodies = {b["type"]: b for b in received(receiver, "/ops", hub.secret)}
    assert set(bodies) == {ENDPOINT_DISABLED, DELIVERY_FAILED}  # a 410 gives the delivery up too
    data = bodies[ENDPOINT_DISABLED]["data"]
    assert data["endpointId"] == str(shop.pk) and data["url"] == shop.url and data["reason"] == shop.disabled_reason
    assert "410" in data["lastError"] and data["disabledAt"]


def test_the_circuit_breakers_announcements_emit_failing_and_recovered(tenant, hub, receiver):
    # The circuit breaker (delivery/) announces these after its commit; here they are announced as it will.
    announce(endpoint_failing, endpoint=hub.shop, error="HTTP 503")
    announce(endpoint_recovered, endpoint=hub.shop)
    drain()
    bodies = received(receiver, "/ops", hub.secret)
    assert [b["type"] for b in bodies] == [ENDPOINT_FAILING, ENDPOINT_RECOVERED]
    assert bodies[0]["data"]["endpointId"] == str(hub.shop.pk) and bodies[0]["data"]["lastError"] == "HTTP 503"
    assert bodies[1]["data"] == {"endpointId": str(hub.shop.pk), "url": hub.shop.url, "since": bodies[1]["data"]["since"]}


def test_the_real_circuit_breaker_emits_failing_when_it_opens_and_recovered_when_a_probe_succeeds(tenant, hub, receiver, settings):
    settings.EVENTHUB = {**SHORT, "RETRY_SCHEDULE": [0, 3600], "CIRCUIT_FAILURE_THRESHOLD": 3, "CIRCUIT_OPEN_SECONDS": 1}
    shop_answers(receiver, 503)
    publish(tenant, "a", "b", "c", "d")
    deliver_now(limit=3)  # three failures in a row: the shop's circuit opens
    hub.shop.refresh_from_db()
    assert hub.shop.circuit_state == "open"
    while Endpoint.objects.get(pk=hub.shop.pk).circuit_until > timezone.now():  # the probe's time
        time.sleep(0.05)
    receiver.script = lambda r: OK
    drain()  # the probe succeeds: the circuit closes and the rest goes
    bodies = received(receiver, "/ops", hub.secret)
    assert [b["type"] for b in bodies] == [ENDPOINT_FAILING, ENDPOINT_RECOVERED]
    assert bodies[0]["data"]["endpointId"] == str(hub.shop.pk) and "503" in bodies[0]["data"]["lastError"]


def test_nothing_is_emitted_and_no_row_written_for_a_tenant_that_did_not_subscribe(tenant, receiver):
    subscribe(tenant, "product.created")  # not the eventhub types
    shop, _ = endpoint(tenant, receiver, "/shop", ["product.*"])
    endpoint(tenant, receiver, "/ops", ["eventhub.*"])
    shop_answers(receiver, 410)
    publish(tenant, "p1")
    drain()
    assert not Endpoint.objects.get(pk=shop.pk).enabled
    with CaptureQueriesContext(connection) as queries:
        announce(endpoint_failing, endpoint=shop, error="HTTP 503")
    assert operational_rows() == (0, 0) and not received(receiver, "/ops")
    assert len(queries) == 1 and queries[0]["sql"].startswith("SELECT version")  # the routing version, nothing written


def test_the_success_path_pays_nothing(tenant, hub, receiver):
    publish(tenant, *[f"p{i}" for i in range(20)])
    attempts = [outcome_of(delivery, outcome) for delivery in Delivery.objects.all() for outcome in ("succeeded", "retrying")]
    with CaptureQueriesContext(connection) as queries:
        operational.on_deliveries_attempted(None, attempts=attempts)
    assert len(queries) == 0
    drain()
    assert operational_rows() == (0, 0) and len(received(receiver, "/shop")) == 20


def test_an_event_about_an_endpoint_is_never_routed_to_that_endpoint(tenant, receiver):
    subscribe(tenant, "product.created", *TYPES)
    shop, _ = endpoint(tenant, receiver, "/shop", ["*"])  # listens to everything, the hub's own events too
    shop_answers(receiver, 502)
    announce(endpoint_failing, endpoint=shop, error="HTTP 502")
    publish(tenant, "p1")
    drain()
    assert Delivery.objects.get().status == DeliveryStatus.FAILED
    assert operational_rows() == (0, 0)  # nobody else listens: not even an event row
    assert {b["type"] for b in received(receiver, "/shop")} == {"product.created"}


def test_a_failing_delivery_of_an_operational_event_emits_no_further_event(tenant, hub, receiver):
    other, other_secret = endpoint(tenant, receiver, "/ops2", ["eventhub.*"])
    receiver.script = lambda r: OK if r.path == "/ops2" else (502, {}, "down", 0)  # the shop and /ops fail
    publish(tenant, "p1")
    drain()
    [failed] = Event.objects.filter(type__startswith="eventhub.")
    assert failed.type == DELIVERY_FAILED and failed.data["endpointId"] == str(hub.shop.pk)
    statuses = dict(Delivery.objects.filter(event=failed).values_list("endpoint_id", "status"))
    assert statuses == {hub.ops.pk: DeliveryStatus.FAILED, other.pk: DeliveryStatus.SUCCEEDED}  # /ops gave up: no event about that
    [body] = received(receiver, "/ops2", other_secret)
    assert body["id"] == failed.event_id


def test_filters_and_payload_formats_apply_to_operational_events(tenant, hub, receiver):
    endpoint(tenant, receiver, "/only-disabled", ["eventhub.*"], event_filter={"type": ENDPOINT_DISABLED})
    endpoint(tenant, receiver, "/data", ["eventhub.endpoint.failing"], payload_format="data")
    announce(endpoint_failing, endpoint=hub.shop, error="timeout")
    drain()
    assert received(receiver, "/only-disabled") == []
    [data] = received(receiver, "/data")
    assert data["endpointId"] == str(hub.shop.pk) and data["lastError"] == "timeout"


def test_a_cause_announced_twice_is_one_event(tenant, hub, receiver):
    Endpoint.objects.filter(pk=hub.shop.pk).update(enabled=False, disabled_reason="gone")
    shop = Endpoint.objects.get(pk=hub.shop.pk)
    announce(endpoint_disabled, endpoint=shop, reason="gone")
    announce(endpoint_disabled, endpoint=shop, reason="gone")
    assert Event.objects.filter(type=ENDPOINT_DISABLED).count() == 1
    drain()
    assert len(received(receiver, "/ops", hub.secret)) == 1


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_a_dead_letter_of_a_broker_message_emits_for_its_tenant_only(tenant, other_tenant, receiver, broker):
    from subscriptions.broker.sources import create_source
    from tests.subscriptions.broker_helpers import running_dispatcher, wait_until

    secrets = {}
    for owner, prefix in ((tenant, "a"), (other_tenant, "b")):
        subscribe(owner, DEADLETTER_CREATED)
        create_source(owner, {"name": f"src-{prefix}", "exchange": broker.exchange, "binding_keys": [f"{prefix}.#"]})
        _, secrets[owner.name] = endpoint(owner, receiver, f"/ops-{owner.name}", ["eventhub.*"])
    receiver.script = lambda r: OK
    with running_dispatcher(**broker.dispatcher_options(batch_ms=50)):
        broker.channel.queue_bind(broker.queue, broker.exchange, "unbound.#")  # a message no tenant's source matches
        broker.publish("unbound.entryCreated", b"{}", type="entryCreated")
        broker.publish("a.entryCreated", b"{not json", type="entryCreated")
        wait_until(lambda: DeadLetter.objects.count() == 2, what="both messages dead-lettered")
        wait_until(lambda: Event.objects.filter(type=DEADLETTER_CREATED).exists(), what="the operational event")
    drain()
    dead = DeadLetter.objects.get(tenant=tenant)
    assert Event.objects.get(type=DEADLETTER_CREATED).tenant_id == tenant.pk  # none for globex, none for nobody's
    [body] = received(receiver, "/ops-acme", secrets["acme"])
    assert body["data"]["deadLetterId"] == dead.pk and body["data"]["reason"] == dead.reason
    assert body["data"]["routingKey"] == "a.entryCreated" and body["data"]["sourceId"] == str(dead.source_id)
    assert received(receiver, "/ops-globex") == []


def test_the_give_ups_of_one_worker_batch_are_recorded_in_one_transaction(tenant, hub, receiver, monkeypatch):
    shop_answers(receiver, 400)  # a client error gives up at once: the dying endpoint's fastest flood
    publish(tenant, *[f"p{i}" for i in range(5)])
    routed, route_events = [], operational.route_events

    def counted(tenant, incoming, **kwargs):
        routed.append([item.type for item in incoming])
        return route_events(tenant, incoming, **kwargs)

    monkeypatch.setattr(operational, "route_events", counted)
    assert deliver_now() == 5
    # one route_events (then one store) for the five (five failures also opened the circuit)
    assert [types for types in routed if DELIVERY_FAILED in types] == [[DELIVERY_FAILED] * 5]
    events = Event.objects.filter(type=DELIVERY_FAILED)
    assert sorted(e.data["eventId"] for e in events) == [f"evt-p{i}" for i in range(5)]
    drain()
    assert [b["type"] for b in received(receiver, "/ops", hub.secret)].count(DELIVERY_FAILED) == 5


def test_subscribed_and_received_through_the_api_as_the_readme_shows(tenant, api, receiver):
    answer = api.patch("/webhook/acme/event-subscriptions", [{"eventType": key, "action": "SUBSCRIBE"} for key in TYPES], format="json")
    assert answer.status_code == 207 and {item["code"] for item in answer.json()} == {200}
    listed = {item["event"]["type"]: item for item in api.get("/webhook/acme/event-subscriptions").json()}
    assert all(listed[key]["subscription"] == "SUBSCRIBED" for key in TYPES)
    assert listed[DELIVERY_FAILED]["event"]["eventSchema"]["deliveryId"] == "Integer"
    created = api.post("/webhook/acme/endpoints", {"url": receiver.url("/ops"), "events": ["eventhub.*"]}, format="json")
    assert created.status_code == 201
    shop, _ = endpoint(tenant, receiver, "/shop", ["product.*"])
    receiver.script = lambda r: OK
    announce(endpoint_recovered, endpoint=shop)
    drain()
    [body] = received(receiver, "/ops", created.json()["secret"])
    assert body["type"] == ENDPOINT_RECOVERED and body["data"]["endpointId"] == str(shop.pk)


def test_one_tenants_failing_record_does_not_keep_another_tenants_give_ups_unreported(tenant, other_tenant, hub, receiver, monkeypatch):
    subscribe(other_tenant, "product.created", *TYPES)
    endpoint(other_tenant, receiver, "/shop-globex", ["product.*"])
    endpoint(other_tenant, receiver, "/ops-globex", ["eventhub.*"])
    publish(tenant, "p1")
    record_events(other_tenant, [IncomingEvent("product.created", {"id": "p2"}, id="evt-p2")])
    Delivery.objects.update(status=DeliveryStatus.FAILED, attempt_count=1, last_error="HTTP 400", finished_at=timezone.now())
    emit = operational.emit

    def broken_for_acme(tenant_id, *args):
        if tenant_id == tenant.pk:
            raise RuntimeError("acme's configuration")
        return emit(tenant_id, *args)

    monkeypatch.setattr(operational, "emit", broken_for_acme)
    operational.on_deliveries_attempted(None, attempts=[outcome_of(d, "failed") for d in Delivery.objects.order_by("tenant_id")])
    [event] = Event.objects.filter(type=DELIVERY_FAILED)
    assert event.tenant_id == other_tenant.pk and event.data["eventId"] == "evt-p2"


def outcome_of(delivery, outcome):
    """The worker's announcement of one attempt of `delivery`, as it is now in the database."""
    return AttemptOutcome(delivery.tenant_id, delivery.pk, delivery.endpoint_id, delivery.event_type, delivery.url,
                          delivery.webhook_id, delivery.attempt_count, delivery.status, delivery.last_status_code, "",
                          delivery.last_error, 1.0, delivery.finished_at, outcome)

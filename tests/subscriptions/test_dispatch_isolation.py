"""One broker message, or one tenant's configuration, never stops ingestion for anyone (issue 13, item 3).

A message that cannot be converted or recorded becomes a dead letter with its reason and, when a source matched, its
tenant (who sees it in GET /webhook/{tenant}/dead-letters); the rest of its batch is recorded; the dispatcher keeps
consuming. A tenant whose endpoint configuration the database cannot store events for has those events dead-lettered
(redriven once the endpoint is corrected); the other tenants' events in the same batch are recorded as usual.
"""

import json

import pytest
from django.db import connection
from django.utils import timezone

from subscriptions.broker import ingest
from subscriptions.core.messages import Message
from subscriptions.broker.dispatch import REASON_HEADER
from subscriptions.broker.ingest import Delivered, RulesCache, ingest_batch
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import DeadLetter, Delivery, Endpoint, Event, Source
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.broker.sources import create_source, dead_letter_row
from tests.subscriptions.broker_helpers import running_dispatcher, wait_until

EXCHANGE = "publicAPI"
SURROGATE = b'{"id": "\\ud800"}'  # the JSON escape: valid JSON and UTF-8, but the text it decodes to has no UTF-8 form

# How a tenant's stored endpoint can break recording its events (both bypass validation, as an old row or a manual
# edit would). PostgreSQL refuses to store a lone surrogate in jsonb at all, so that one exists on SQLite only.
BROKEN_ENDPOINTS = [
    pytest.param({"custom_payload": {"\ud800": "/data"}}, "a lone surrogate (U+D800)", id="customPayload-key-lone-surrogate"),
    pytest.param({"events": [7]}, "TypeError", id="events-not-strings"),
]


def setup_tenant(tenant, exchange=EXCHANGE):
    source = create_source(tenant, {"name": "ec", "exchange": exchange, "binding_keys": [f"{tenant.name}.#"]})
    apply_subscription_change(tenant, SubscriptionChange("entryCreated", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": f"https://hooks.example.com/{tenant.name}", "events": ["entryCreated"]})
    return source


def delivered(tag, tenant, body, message_id, redelivered=False):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    props = {"contentType": "application/json", "messageId": message_id}
    return Delivered(tag, Message(EXCHANGE, f"{tenant.name}.model.entryCreated", raw, props), redelivered)


def event_ids(tenant):
    return set(Event.objects.filter(tenant=tenant).values_list("event_id", flat=True))


def break_endpoint(tenant, change):
    if "custom_payload" in change and connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses to store a lone surrogate in jsonb: such an endpoint cannot exist there")
    Endpoint.objects.filter(tenant=tenant).update(**change)


def correct_endpoint(tenant):
    Endpoint.objects.filter(tenant=tenant).update(custom_payload=None, events=["entryCreated"], modified_at=timezone.now())


# --- ingest_batch: the isolation itself ------------------------------------------------------------


@pytest.mark.django_db
def test_a_lone_surrogate_is_a_dead_letter_of_its_tenant_and_the_batch_around_it_is_recorded(tenant, other_tenant, api, api_client_for):
    acme_source = setup_tenant(tenant)
    setup_tenant(other_tenant)
    bad = delivered(3, tenant, SURROGATE, "bad")
    batch = [delivered(1, tenant, {"n": 1}, "a1"), delivered(2, other_tenant, {"n": 1}, "g1"), bad,
             delivered(4, tenant, {"n": 2}, "a2"), delivered(5, other_tenant, {"n": 2}, "g2")]

    outcome = ingest_batch(batch, RulesCache())

    assert outcome.events == 4 and event_ids(tenant) == {"a1", "a2"} and event_ids(other_tenant) == {"g1", "g2"}
    assert Delivery.objects.count() == 4
    reason = "body.id holds a lone surrogate (U+D800), which is not a character: UTF-8 text cannot carry it."
    assert [(item.tag, why) for item, why in outcome.dead] == [(3, reason)]  # published to the dead-letter exchange
    row = DeadLetter.objects.get()
    assert (row.tenant_id, row.source_id, row.reason, row.body) == (tenant.id, acme_source.id, reason, SURROGATE.decode())
    [listed] = api.get("/webhook/acme/dead-letters").json()
    assert listed["reason"] == reason and listed["properties"]["messageId"] == "bad"
    assert api_client_for(other_tenant).get("/webhook/globex/dead-letters").json() == []


@pytest.mark.django_db
def test_nul_and_numbers_out_of_range_are_dead_letters_of_their_tenant_on_every_database(tenant, other_tenant, api):
    setup_tenant(tenant)
    setup_tenant(other_tenant)
    batch = [delivered(1, tenant, b'{"text": "nul \\u0000 inside"}', "nul"), delivered(2, other_tenant, {"n": 1}, "g1"),
             delivered(3, tenant, b'{"n": 1e400}', "huge"), delivered(4, tenant, {"n": 2}, "a2")]
    outcome = ingest_batch(batch, RulesCache())
    assert event_ids(tenant) == {"a2"} and event_ids(other_tenant) == {"g1"}
    assert [item.tag for item, _ in outcome.dead] == [1, 3]
    reasons = {d["properties"]["messageId"]: d["reason"] for d in api.get("/webhook/acme/dead-letters").json()}
    assert reasons == {"nul": "body.text holds a NUL character (\\u0000), which the hub cannot store.",
                       "huge": "body.n is 1e400, a number too large to store (it overflows to infinity)."}


@pytest.mark.django_db
@pytest.mark.parametrize("change, reason", BROKEN_ENDPOINTS)
def test_a_tenant_whose_endpoint_cannot_be_recorded_gets_dead_letters_and_the_other_tenant_is_untouched(
    tenant, other_tenant, api, api_client_for, change, reason
):
    setup_tenant(tenant)
    setup_tenant(other_tenant)
    break_endpoint(tenant, change)
    batch = [delivered(1, tenant, {"n": 1}, "a1"), delivered(2, other_tenant, {"n": 1}, "g1"),
             delivered(3, tenant, {"n": 2}, "a2"), delivered(4, other_tenant, {"n": 2}, "g2")]

    outcome = ingest_batch(batch, RulesCache())

    assert event_ids(other_tenant) == {"g1", "g2"} and Delivery.objects.filter(tenant=other_tenant).count() == 2
    assert not event_ids(tenant) and [item.tag for item, _ in outcome.dead] == [1, 3]
    listed = api.get("/webhook/acme/dead-letters").json()
    assert sorted(d["properties"]["messageId"] for d in listed) == ["a1", "a2"]
    assert all(d["reason"].startswith("the event could not be recorded: ") and reason in d["reason"] for d in listed)
    assert api_client_for(other_tenant).get("/webhook/globex/dead-letters").json() == []

    # Nothing is lost: once the endpoint is corrected, the tenant redrives its dead letters into events and deliveries
    # (before that, a redrive is refused with the reason, not a 500).
    refused = api.post(f"/webhook/acme/dead-letters/{listed[0]['id']}/redrive")
    assert refused.status_code == 400 and "The event still cannot be recorded" in refused.json()["message"], refused.content
    correct_endpoint(tenant)
    for d in listed:
        redriven = api.post(f"/webhook/acme/dead-letters/{d['id']}/redrive")
        assert redriven.status_code == 200 and redriven.json()["deliveries"] == 1, redriven.content
    assert event_ids(tenant) == {"a1", "a2"}


@pytest.mark.django_db
def test_an_endpoint_rendering_unencodable_text_is_named_in_the_dead_letter(tenant, other_tenant):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses to store a lone surrogate in jsonb: such an endpoint cannot exist there")
    setup_tenant(tenant)
    endpoint = Endpoint.objects.get(tenant=tenant)
    Endpoint.objects.filter(pk=endpoint.pk).update(custom_payload={"x\ud800": "/data"})
    ingest_batch([delivered(1, tenant, {"n": 1}, "a1")], RulesCache())
    assert f"endpoint {endpoint.id} renders it, and its body holds a lone surrogate (U+D800)" in DeadLetter.objects.get().reason


@pytest.mark.django_db
def test_a_source_row_that_breaks_matching_is_ignored_and_the_other_tenants_messages_are_recorded(tenant, other_tenant):
    setup_tenant(tenant)
    setup_tenant(other_tenant)
    Source.objects.filter(tenant=tenant).update(binding_keys=[1])  # bypassing validation: not a list of strings
    outcome = ingest_batch([delivered(1, other_tenant, {"n": 1}, "g1"), delivered(2, other_tenant, {"n": 2}, "g2")], RulesCache())
    assert event_ids(other_tenant) == {"g1", "g2"} and not outcome.dead


@pytest.mark.django_db
def test_an_unexpected_failure_converting_one_message_dead_letters_it_for_the_matching_tenant(tenant, other_tenant, monkeypatch):
    setup_tenant(tenant)
    setup_tenant(other_tenant)
    convert = ingest.convert

    def failing(message, *args, **kwargs):
        if message.properties["messageId"] == "boom":
            raise RuntimeError("a bug")
        return convert(message, *args, **kwargs)

    monkeypatch.setattr(ingest, "convert", failing)
    outcome = ingest_batch([delivered(1, tenant, {"n": 1}, "a1"), delivered(2, tenant, {"n": 2}, "boom"),
                            delivered(3, other_tenant, {"n": 3}, "g1")], RulesCache())
    assert event_ids(tenant) == {"a1"} and event_ids(other_tenant) == {"g1"}
    row = DeadLetter.objects.get()
    assert row.tenant_id == tenant.id and row.reason == "the message could not be converted: RuntimeError: a bug"
    assert [item.tag for item, _ in outcome.dead] == [2]


@pytest.mark.django_db
def test_a_dead_letter_that_cannot_be_stored_still_leaves_on_the_dead_letter_exchange(tenant, monkeypatch):
    setup_tenant(tenant)
    store = ingest.store_dead_letters

    def refusing(rows):
        if rows:
            raise ValueError("refused")
        return store(rows)

    monkeypatch.setattr(ingest, "store_dead_letters", refusing)
    outcome = ingest_batch([delivered(1, tenant, {"n": 1}, "a1"), delivered(2, tenant, SURROGATE, "bad")], RulesCache())
    assert event_ids(tenant) == {"a1"}
    [(item, reason)] = outcome.dead  # published before the batch is acknowledged: not lost
    assert item.tag == 2 and reason.startswith("the message could not be stored: ValueError: refused")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_batch_of_one_tenant_is_stored_by_one_statement_outside_any_transaction(tenant, monkeypatch):
    """The dispatcher's committers call ingest_batch outside any transaction: one tenant's batch is one statement,
    a transaction of its own (no atomic block, so no BEGIN, savepoint or COMMIT round trips), and stores its events
    and deliveries."""
    from django.db import transaction

    setup_tenant(tenant)
    batch = [delivered(1, tenant, {"n": 1}, "a1"), delivered(2, tenant, {"n": 2}, "a2")]
    opened = []
    atomic = transaction.atomic
    monkeypatch.setattr(transaction, "atomic", lambda *args, **kwargs: opened.append(args) or atomic(*args, **kwargs))
    outcome = ingest_batch(batch, RulesCache())
    monkeypatch.undo()
    assert opened == []
    assert outcome.events == 2 and event_ids(tenant) == {"a1", "a2"} and Delivery.objects.count() == 2


@pytest.fixture
def event_id_refused(transactional_db):
    """PostgreSQL itself refuses to store the event whose id is 'bad' (a CHECK constraint, dropped afterwards)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE subscriptions_event ADD CONSTRAINT test_refuse_bad CHECK (event_id <> 'bad')")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE subscriptions_event DROP CONSTRAINT IF EXISTS test_refuse_bad")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_when_one_tenants_statement_is_refused_its_events_are_recorded_one_by_one(tenant, event_id_refused):
    """All or nothing: the statement the database refused stored nothing, and the batch is taken again on the same
    connection in savepoints, where the refused event becomes the tenant's dead letter and the others are recorded."""
    setup_tenant(tenant)
    outcome = ingest_batch([delivered(1, tenant, {"n": 1}, "a1"), delivered(2, tenant, {"n": 2}, "bad"),
                            delivered(3, tenant, {"n": 3}, "a2")], RulesCache())
    assert outcome.events == 2 and event_ids(tenant) == {"a1", "a2"} and Delivery.objects.count() == 2
    [(item, reason)] = outcome.dead
    assert item.tag == 2 and reason.startswith("the event could not be recorded: ") and "test_refuse_bad" in reason
    assert DeadLetter.objects.get().tenant_id == tenant.id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_webhooks_limit_set_after_the_one_statement_check_still_stores_events_and_deliveries_together(tenant, monkeypatch):
    """The committer chose one statement (no limit); by the store the tenant has a monthly webhooks limit, which takes
    the step-by-step way. Those steps run in one transaction: a failure between them leaves no event without its
    deliveries (before the fix the events were committed alone, and acknowledged on the retry)."""
    from django.db import OperationalError

    from subscriptions.pipeline import recording

    setup_tenant(tenant)
    monkeypatch.setattr(ingest, "stored_in_one_statement", lambda routed: True)  # the check, before the limit
    monkeypatch.setattr(recording, "current_limit", lambda tenant_id: 1000)  # the limit, set since

    def connection_lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(recording, "insert_rows", connection_lost)  # the deliveries' INSERT, after the events'
    with pytest.raises(OperationalError):
        ingest_batch([delivered(1, tenant, {"n": 1}, "a1"), delivered(2, tenant, {"n": 2}, "a2")], RulesCache())
    monkeypatch.undo()
    assert not event_ids(tenant) and not Delivery.objects.exists()


# --- the dispatcher against RabbitMQ: it keeps consuming ------------------------------------------


def publish(broker, tenant, body, message_id, routing_key=None):
    broker.publish(routing_key or f"{tenant.name}.model.entryCreated", body, type=None, message_id=message_id)


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_dead_letters_a_lone_surrogate_for_its_tenant_and_keeps_consuming(tenant, other_tenant, broker, api):
    setup_tenant(tenant, broker.exchange)
    setup_tenant(other_tenant, broker.exchange)
    with running_dispatcher(**broker.dispatcher_options(batch_ms=300)) as dispatcher:
        publish(broker, tenant, {"n": 1}, "a1")
        publish(broker, other_tenant, {"n": 1}, "g1")
        publish(broker, tenant, SURROGATE, "bad")
        publish(broker, tenant, {"n": 2}, "a2")
        publish(broker, other_tenant, {"n": 2}, "g2")
        wait_until(lambda: Event.objects.count() == 4 and DeadLetter.objects.count() == 1, what="the good ones recorded, the bad one dead-lettered")
        publish(broker, tenant, {"n": 3}, "after")  # published after the bad one was handled
        wait_until(lambda: Event.objects.filter(event_id="after").exists(), what="a message after the bad one")
        wait_until(lambda: broker.depth(broker.queue) == 0, what="the queue drained")
        assert dispatcher.thread.is_alive()
    assert event_ids(tenant) == {"a1", "a2", "after"} and event_ids(other_tenant) == {"g1", "g2"}
    [listed] = api.get("/webhook/acme/dead-letters").json()
    assert "body.id holds a lone surrogate (U+D800)" in listed["reason"] and listed["properties"]["messageId"] == "bad"
    [(props, body)] = broker.drain(broker.dead_queue)
    assert body == SURROGATE and "lone surrogate" in props.headers[REASON_HEADER]


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change, reason", BROKEN_ENDPOINTS)
def test_the_dispatcher_keeps_recording_other_tenants_when_one_tenants_endpoint_cannot_be_recorded(
    tenant, other_tenant, broker, change, reason
):
    setup_tenant(tenant, broker.exchange)
    setup_tenant(other_tenant, broker.exchange)
    break_endpoint(tenant, change)
    with running_dispatcher(**broker.dispatcher_options(batch_ms=300)) as dispatcher:
        for n in range(3):
            publish(broker, tenant, {"n": n}, f"a{n}")
            publish(broker, other_tenant, {"n": n}, f"g{n}")
        wait_until(lambda: len(event_ids(other_tenant)) == 3 and DeadLetter.objects.count() == 3, what="globex recorded, acme dead-lettered")
        correct_endpoint(tenant)
        publish(broker, tenant, {"n": 9}, "after")
        wait_until(lambda: Event.objects.filter(event_id="after").exists(), what="acme's next message, after the fix")
        wait_until(lambda: broker.depth(broker.queue) == 0, what="the queue drained")
        assert dispatcher.thread.is_alive()
    assert Delivery.objects.filter(tenant=other_tenant).count() == 3
    assert set(DeadLetter.objects.values_list("tenant_id", flat=True)) == {tenant.id}
    assert all(reason in r for r in DeadLetter.objects.values_list("reason", flat=True))
    assert len(broker.drain(broker.dead_queue)) == 3


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_a_routing_key_that_is_not_utf8_does_not_stop_the_dispatcher(tenant, broker):
    setup_tenant(tenant, broker.exchange)
    with running_dispatcher(**broker.dispatcher_options(batch_ms=100)) as dispatcher:
        publish(broker, tenant, {"n": 1}, "odd", routing_key=b"acme.\xff.entryCreated")  # pika hands it over as bytes
        publish(broker, tenant, {"n": 2}, "after")
        wait_until(lambda: event_ids(tenant) == {"odd", "after"}, what="both recorded")
        wait_until(lambda: broker.depth(broker.queue) == 0, what="the queue drained")
        assert dispatcher.thread.is_alive()
    assert Event.objects.get(event_id="odd").routing_key == "acme.\ufffd.entryCreated"


def test_reasons_hold_no_unencodable_text_even_when_the_message_did():
    # An unknown type read from the body (a lone surrogate there) is quoted in the reason: stored and published as
    # U+FFFD, since neither the database nor the AMQP header table can carry a lone surrogate.
    row = dead_letter_row(Message("x\x00", "k", b"{\x00}", {"messageId": "m\x00"}), "unknown event type '\ud800'")
    assert (row.exchange, row.body, row.properties, row.reason) == ("x\ufffd", "{\ufffd}", {"messageId": "m\ufffd"}, "unknown event type '\ufffd'")

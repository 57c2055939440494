"""JSON nested deep enough to pass the parser but not the rest of the pipeline (the encoder, the database): a broker
message so built is dead-lettered with its reason and the queue moves on; over HTTP it is a clear 400. Either way
nothing is lost: the good messages around it are stored once."""

import pytest

from subscriptions.core.messages import Message, parse_body
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import DeadLetter, Delivery, Event
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.broker.sources import create_source
from tests.subscriptions.broker_helpers import running_dispatcher, wait_until

# Deep enough to pass json.loads at a shallow stack, too deep to be encoded again from deep inside Django.
DEEP = 900


def nested(depth):
    return ('{"a": ' + "[" * depth + "]" * depth + "}").encode()


@pytest.mark.parametrize("depth", [DEEP, 100_000])
def test_a_broker_body_nested_too_deeply_is_unconvertible_with_a_reason(depth):
    with pytest.raises(Exception, match="nested too deeply"):
        parse_body(Message("x", "a.entryCreated", nested(depth), {}))


def test_ordinary_nesting_is_still_accepted():
    assert parse_body(Message("x", "a.entryCreated", nested(60), {}))["a"]


@pytest.mark.django_db
def test_an_event_nested_too_deeply_over_http_is_a_400_and_stores_nothing(tenant, api):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})
    response = api.post("/webhook/acme/events", b'{"type": "product.created", "data": ' + nested(DEEP) + b"}", content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "nested too deeply" in response.json()["message"]
    assert not Event.objects.exists() and not Delivery.objects.exists()


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_a_deeply_nested_broker_message_is_dead_lettered_and_does_not_block_the_queue(tenant, broker):
    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    apply_subscription_change(tenant, SubscriptionChange("entryCreated", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["entryCreated"]})
    with running_dispatcher(**broker.dispatcher_options(batch_ms=50)):
        broker.publish("a.entryCreated", {"n": 1}, message_id="before")
        broker.publish("a.entryCreated", nested(DEEP), message_id="deep")
        broker.publish("a.entryCreated", {"n": 2}, message_id="after")
        wait_until(lambda: Event.objects.count() == 2 and DeadLetter.objects.count() == 1, timeout=20,
                   what="the good messages stored and the deep one dead-lettered")
        wait_until(lambda: broker.depth(broker.queue) == 0, what="the queue drained")
    assert set(Event.objects.values_list("event_id", flat=True)) == {"before", "after"}
    row = DeadLetter.objects.get()
    assert "nested too deeply" in row.reason and row.properties["messageId"] == "deep"
    assert len(broker.drain(broker.dead_queue)) == 1

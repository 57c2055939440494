"""Two batches stored at once on PostgreSQL (broker/dispatch.py), and the one exception: a batch that may create keyed
deliveries (an endpoint with `ordering`) is stored only after every batch received before it, so a key's deliveries
keep the queue's order though the batches around it commit side by side."""

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from subscriptions.broker import dispatch
from subscriptions.broker.dispatch import Dispatcher, Stopped
from subscriptions.broker.ingest import Delivered, RulesCache, prepare_batch
from subscriptions.broker.sources import create_source
from subscriptions.core.messages import Message
from subscriptions.endpoints.services import create_endpoint
from subscriptions.services import SubscriptionChange, apply_subscription_change


def done(value):
    future = Future()
    future.set_result(value)
    return future


@pytest.fixture
def stored(monkeypatch):
    """What the committer stored, in order (store_batch replaced: these tests are about when, not how)."""
    calls = []
    monkeypatch.setattr(dispatch, "store_batch", lambda ready: calls.append(ready) or f"stored {len(calls)}")
    return calls


def test_a_batch_without_keyed_deliveries_is_stored_while_the_one_before_it_still_commits(stored):
    plain = SimpleNamespace(ordered=False)
    still_committing = Future()
    assert Dispatcher(url="amqp://unused")._commit([], done(plain), [still_committing]) == "stored 1"
    assert stored == [plain]


def test_a_batch_with_keyed_deliveries_waits_for_every_batch_before_it(stored):
    keyed = SimpleNamespace(ordered=True)
    first, second = Future(), Future()
    with ThreadPoolExecutor(1) as committer:
        pending = committer.submit(Dispatcher(url="amqp://unused")._commit, [], done(keyed), [first, second])
        second.set_result("stored")  # the later one done first: still waiting for the first
        assert not threading.Event().wait(0.3) and not pending.done() and stored == []
        first.set_result("stored")
        assert pending.result(10) == "stored 1" and stored == [keyed]


def test_a_keyed_batch_is_not_stored_when_one_before_it_was_not(stored):
    earlier = Future()
    earlier.set_exception(Stopped())  # asked to stop while the database was away: unacknowledged, it comes back
    with pytest.raises(Stopped):
        Dispatcher(url="amqp://unused")._commit([], done(SimpleNamespace(ordered=True)), [earlier])
    assert stored == []


@pytest.mark.django_db
@pytest.mark.parametrize("ordering, ordered", [(None, False), ({"key": "/data/entryID"}, True)], ids=["plain", "keyed"])
def test_a_prepared_batch_knows_whether_it_may_create_keyed_deliveries(tenant, ordering, ordered):
    create_source(tenant, {"name": "ec", "exchange": "publicAPI", "binding_keys": [f"{tenant.name}.#"]})
    apply_subscription_change(tenant, SubscriptionChange("entryCreated", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["entryCreated"], **({"ordering": ordering} if ordering else {})})
    body = json.dumps({"entryID": "e1"}).encode()
    message = Message("publicAPI", f"{tenant.name}.model.entryCreated", body, {"contentType": "application/json", "messageId": "m1"})
    assert prepare_batch([Delivered(1, message)], RulesCache()).ordered is ordered


def test_each_committer_prepares_again_with_its_own_rules_cache():
    """A RulesCache reloads its rules and its tenants in two steps: two committers sharing one could pair one reload's
    rules with the other's tenants (a message of a new tenant dead-lettered as if its tenant were unknown)."""
    dispatcher = Dispatcher(url="amqp://unused")
    with ThreadPoolExecutor(1) as one, ThreadPoolExecutor(1) as other:
        first, again = one.submit(dispatcher._retry_cache).result(), one.submit(dispatcher._retry_cache).result()
        second = other.submit(dispatcher._retry_cache).result()
    assert first is again and first is not second

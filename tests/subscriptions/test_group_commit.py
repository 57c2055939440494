"""Group commit: HTTP publishes that arrive together share one transaction, and each is answered for itself.

The committer runs on a thread with its own database connection, so these tests commit for real
(transaction=True) and hold the database to its word with triggers (PostgreSQL and SQLite alike): one that refuses
a single request's row, one that makes the COMMIT itself fail.
"""

import pytest
from django.db import connection

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, Event
from subscriptions.pipeline.group_commit import GroupCommitter
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def routed(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]


@pytest.fixture
def together():
    """A committer whose requests, handed in together (see answers()), share one transaction."""
    return GroupCommitter()


def event(event_id, kind="product.created"):
    return {"type": kind, "id": event_id, "data": {"id": event_id}}


def answers(committer, tenant, bodies):
    with committer._ready:  # the committer takes nothing before all are handed in, however busy the machine
        futures = [committer.submit(tenant, body) for body in bodies]
    return [future.result(timeout=30) for future in futures]


def stored_ids():
    return sorted(Event.objects.values_list("event_id", flat=True))


def test_requests_arriving_together_share_one_commit_and_each_gets_its_own_results(tenant, routed, together):
    results = answers(together, tenant, [event("e1"), [event("e2"), event("e3")], event("e1")])
    assert [a.status for a in results] == [202, 202, 202]
    assert results[0].body == [{"id": "e1", "created": True, "deliveries": 1}]
    assert results[1].body == [{"id": "e2", "created": True, "deliveries": 1}, {"id": "e3", "created": True, "deliveries": 1}]
    assert results[2].body == [{"id": "e1", "created": False, "deliveries": 0}]  # the first of the same id wins
    assert together.commits == 1 and together.requests == 3
    assert stored_ids() == ["e1", "e2", "e3"] and Delivery.objects.count() == 3


def test_a_request_that_fails_validation_is_refused_alone_and_the_others_are_stored(tenant, routed, together):
    results = answers(together, tenant, [event("e1"), [event("e2"), event("e3", kind="no.such.type")], event("e4")])
    assert [a.status for a in results] == [202, 400, 202]
    assert results[1].body["problems"] == [{"field": "[1].type", "message": "Unknown event type 'no.such.type'."}]
    assert together.commits == 1
    assert stored_ids() == ["e1", "e4"]


@pytest.fixture
def database_refuses():
    """The database refuses to store an event whose id starts with the given prefix, at the INSERT (a statement
    error inside the shared transaction) or at the COMMIT (a deferred foreign key made to fail)."""
    made = []

    def install(prefix, when):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                action = ("RAISE EXCEPTION 'refused by a test trigger'" if when == "insert" else
                          "INSERT INTO subscriptions_routingversion (tenant_id, version) VALUES (-1, gen_random_uuid())")
                cursor.execute(f"CREATE FUNCTION refuse_{when}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                               f"IF NEW.event_id LIKE '{prefix}%' THEN {action}; END IF; RETURN NEW; END $$")
                cursor.execute(f"CREATE TRIGGER refuse_{when} BEFORE INSERT ON subscriptions_event FOR EACH ROW EXECUTE FUNCTION refuse_{when}()")
            else:
                action = ("SELECT RAISE(ABORT, 'refused by a test trigger')" if when == "insert" else
                          "INSERT INTO subscriptions_routingversion (tenant_id, version) VALUES (-1, 'ffffffffffffffffffffffffffffffff')")
                cursor.execute(f"CREATE TRIGGER refuse_{when} BEFORE INSERT ON subscriptions_event "
                               f"WHEN NEW.event_id LIKE '{prefix}%' BEGIN {action}; END")
        made.append(when)

    yield install
    with connection.cursor() as cursor:
        for when in made:
            cursor.execute(f"DROP TRIGGER refuse_{when}" + (" ON subscriptions_event" if connection.vendor == "postgresql" else ""))
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP FUNCTION refuse_{when}()")


def test_a_request_the_database_refuses_fails_alone_and_the_others_it_shared_a_transaction_with_are_stored(
        tenant, routed, together, database_refuses):
    database_refuses("poison", when="insert")
    results = answers(together, tenant, [event("e1"), [event("e2"), event("poison-1")], event("e3")])
    assert [a.status for a in results] == [202, 500, 202]
    assert results[1].body["status"] == "Internal Server Error" and "nothing of this request was stored" in results[1].body["message"]
    assert results[0].body == [{"id": "e1", "created": True, "deliveries": 1}]
    assert stored_ids() == ["e1", "e3"]  # nothing of the refused request, not even its good event e2
    assert sorted(Delivery.objects.values_list("event__event_id", flat=True)) == ["e1", "e3"]


def test_a_commit_that_fails_answers_every_request_503_with_retry_after_and_stores_none(tenant, routed, together, database_refuses):
    database_refuses("breaks-commit", when="commit")
    results = answers(together, tenant, [event("e1"), event("breaks-commit-1"), [event("e2"), event("e3")]])
    assert [a.status for a in results] == [503, 503, 503]
    assert all(a.retry_after == 1 and a.body["status"] == "Service Unavailable" for a in results)
    assert stored_ids() == [] and Delivery.objects.count() == 0
    # Sent again, without what broke the commit, they are stored: the committer and its connection carry on.
    again = answers(together, tenant, [event("e1"), [event("e2"), event("e3")]])
    assert [a.status for a in again] == [202, 202] and stored_ids() == ["e1", "e2", "e3"]


def test_requests_of_different_tenants_share_a_commit_but_never_each_others_endpoints(tenant, other_tenant, routed, together):
    apply_subscription_change(other_tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    theirs = create_endpoint(other_tenant, {"url": "https://hooks.example.com/b", "events": ["product.*"]})[0]
    with together._ready:
        first, second = (together.submit(tenant, event("same-id")), together.submit(other_tenant, event("same-id")))
    assert first.result(30).status == second.result(30).status == 202
    assert together.commits == 1
    assert sorted(Delivery.objects.values_list("tenant__name", "endpoint_id")) == [("acme", routed.pk), ("globex", theirs.pk)]


def test_an_id_another_writer_stored_after_routing_is_stored_once(tenant, routed):
    from subscriptions.pipeline.recording import IncomingEvent, record_events, route_events, store_routed_events

    late = route_events(tenant, [IncomingEvent("product.created", {"n": 1}, id="e1"), IncomingEvent("product.created", {}, id="e2")])
    record_events(tenant, [IncomingEvent("product.created", {"n": 2}, id="e1")])  # the other writer, first
    assert [(r.event_id, r.created) for r in store_routed_events(late)] == [("e1", False), ("e2", True)]
    assert Event.objects.get(event_id="e1").data == {"n": 2} and Delivery.objects.count() == 2


def test_a_request_whose_client_went_away_does_not_stop_the_others_being_answered(tenant, routed, together):
    with together._ready:
        gone, staying = together.submit(tenant, event("e1")), together.submit(tenant, event("e2"))
        gone.cancel()  # what asyncio.wrap_future does when the request's task is cancelled
    assert staying.result(30).status == 202
    assert together.submit(tenant, event("e3")).result(30).status == 202
    assert stored_ids() == ["e1", "e2", "e3"]

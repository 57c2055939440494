"""Arbitrary Unicode and numbers through every door that stores what a tenant sends (issue 13, "Done when").

Lone surrogates (sent as JSON escapes), NUL and other control characters, bidi and non-characters, huge integers,
NaN/Infinity/1e400 go into ingest, PATCH event-subscriptions, endpoint, event type and source creation, and a broker
message. Whatever comes in:
- no answer is a 5xx (the test client re-raises a server error, so an unhandled exception fails the example too);
- nothing is dropped silently: a 2xx that says it created something means the row exists and reads back, through
  the API, equal to what was sent; a 4xx is the common error shape and names the field;
- the tenant's own lists stay readable, and the next good request of ANOTHER tenant succeeds.

Run on SQLite and on PostgreSQL: they refuse different things. Hypothesis is derandomized so a run is repeatable.
"""

import json
import uuid
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscriptions.models import DeadLetter, Event, EventType, Source
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db

EXAMPLES = 75
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
BASE = "/webhook/acme"

# --- what is sent --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A number literal written into the JSON text as it is (1e400, NaN, 10**400 ...): json.dumps cannot write them."""

    text: str


HOSTILE_TEXT = [
    "\x00", "a\x00b", "\ud800", "\udfff", "x\udbffy", "\ud83d", "\ude00", "\ud83d\ude00", "\U0001F600", "\u202e", "\x1b[31m",
    "\ufeff", "\uffff", "\ufffe", "\x7f", "\u2028", "\r\n", "\t", "\x01\x02", "", " ", "\\u0000", "%00", "\U0010FFFF",
]
NUMBER_LITERALS = ["1e400", "-1e400", "1E+999", "NaN", "Infinity", "-Infinity", "-0", "0.0e-999", "1e-400", "1" + "0" * 400, "-" + "9" * 4000, "9" * 400 + ".5"]

any_char = st.characters(exclude_categories=())  # surrogates (Cs) included
text = st.one_of(st.text(any_char, max_size=12), st.sampled_from(HOSTILE_TEXT), st.lists(st.sampled_from(HOSTILE_TEXT), min_size=2, max_size=4).map("".join))
numbers = st.one_of(
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NUMBER_LITERALS).map(Raw),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12)
json_objects = st.dictionaries(text, json_values, max_size=5)


def to_json(value) -> str:
    """JSON text as a careless or hostile client writes it: strings escaped to ASCII (so a lone surrogate travels as
    \\ud800, a NUL as \\u0000), NaN and Infinity as Python writes them, Raw literals as they are."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


def same_json(sent, stored) -> bool:
    """Equal as JSON: numbers by value (PostgreSQL's jsonb writes 1e300 back as a 301-digit integer)."""
    if isinstance(sent, bool) or isinstance(stored, bool):
        return sent is stored
    if isinstance(sent, (int, float)) and isinstance(stored, (int, float)):
        return sent == stored if type(sent) is type(stored) is int else float(sent) == float(stored)
    if isinstance(sent, dict) and isinstance(stored, dict):
        return sent.keys() == stored.keys() and all(same_json(sent[k], stored[k]) for k in sent)
    if isinstance(sent, list) and isinstance(stored, list):
        return len(sent) == len(stored) and all(same_json(a, b) for a, b in zip(sent, stored))
    return sent == stored


# --- what must hold ------------------------------------------------------------------------------------------------


@pytest.fixture
def doors(tenant, other_tenant, api_client_for):
    return Doors(api_client_for(tenant), api_client_for(other_tenant))


class Doors:
    def __init__(self, api, other):
        self.api, self.other = api, other

    def send(self, method, path, body_text):
        cache.clear()  # rate limits are not under test; a long run must not meet them
        response = self.api.generic(method, f"{BASE}{path}", body_text.encode("utf-8"), content_type="application/json")
        assert response.status_code < 500, response.content
        if response.status_code >= 400:
            assert_names_a_field(response)
        return response

    def still_serving(self, *lists):
        """The fuzzed tenant's lists render; the next good request of another tenant is stored and read back."""
        for path in lists:
            listed = self.api.get(f"{BASE}{path}")
            assert listed.status_code == 200, (path, listed.content)
        good_id = f"good-{uuid.uuid4().hex}"
        good = self.other.post("/webhook/globex/events", {"type": "product.created", "id": good_id, "data": {"ok": True}}, format="json")
        assert good.status_code == 202 and good.json()[0]["created"], good.content
        assert Event.objects.filter(tenant__name="globex", event_id=good_id).exists()


def assert_names_a_field(response):
    body = response.json()
    assert set(body) == {"code", "status", "message", "details", "problems"} and body["code"] == response.status_code, body
    if response.status_code in (400, 422):
        assert body["problems"] and any(d["field"] for d in body["problems"]), body


# --- the doors -----------------------------------------------------------------------------------------------------

timestamps = st.one_of(
    st.none(),
    text,
    st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999+14:00", "2026-02-30T00:00:00Z"]),
    st.builds(
        lambda moment, minutes: moment.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if minutes == 0 else f"{'+-'[minutes < 0]}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"),
        st.datetimes(), st.integers(min_value=-14 * 60, max_value=14 * 60),
    ),
)
ingest_items = st.fixed_dictionaries(
    {"type": st.one_of(st.just("product.created"), text), "data": json_objects},
    optional={"timestamp": timestamps, "id": text.map(lambda t: f"{uuid.uuid4().hex}{t}"), "extra": json_values},
)


@given(body=st.one_of(ingest_items, st.lists(ingest_items, min_size=1, max_size=3)))
@FUZZ
def test_ingest(doors, tenant, body):
    sent = json.loads(to_json(body))
    response = doors.send("POST", "/events", to_json(body))
    if response.status_code == 202:
        items = sent if isinstance(sent, list) else [sent]
        for item, result in zip(items, response.json(), strict=True):
            assert result["created"], f"answered 202 but not stored: {result}"
            stored = Event.objects.get(tenant=tenant, event_id=result["id"])
            assert same_json(item["data"], stored.data), (item["data"], stored.data)
    doors.still_serving("/events")


@pytest.fixture
def subscribed(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))


subscription_items = st.fixed_dictionaries(
    {"eventType": st.one_of(st.sampled_from(["product.created", "product.deleted"]), text)},
    optional={"action": st.one_of(st.sampled_from(["SUBSCRIBE", "UNSUBSCRIBE"]), text), "fieldsToSubscribe": st.lists(text, max_size=3),
              "fieldsToUnsubscribe": st.lists(text, max_size=3), "metadata": json_objects},
)


@given(items=st.lists(subscription_items, min_size=1, max_size=3))
@FUZZ
def test_patch_event_subscriptions(doors, subscribed, items):
    response = doors.send("PATCH", "/event-subscriptions", to_json(items))
    if response.status_code == 207:
        for result in response.json():
            if result["code"] == 200:
                listed = doors.api.get(f"{BASE}/event-subscriptions", {"eventType": result["eventType"]})
                assert listed.status_code == 200 and listed.json()[0]["event"]["type"] == result["eventType"]
            else:
                assert result["code"] in (400, 404, 409) and result["message"], result
    doors.still_serving("/event-subscriptions", "/events")


endpoint_bodies = st.fixed_dictionaries(
    {"url": st.one_of(st.just("https://hooks.example.com/fuzz"), text.map(lambda t: f"https://hooks.example.com/{t}")),
     "events": st.one_of(st.just(["product.created"]), st.lists(text, min_size=1, max_size=2))},
    optional={"customPayload": st.one_of(json_objects, st.dictionaries(text, st.sampled_from(["/data/id", "/type"]), max_size=3)),
              "eventFilter": st.one_of(json_objects, st.dictionaries(st.just("data.x"), st.dictionaries(st.sampled_from(["$eq", "$gt", "$in"]), json_values, max_size=1), max_size=1)),
              "description": text, "headers": st.dictionaries(text, text, max_size=2)},
)


@given(body=endpoint_bodies)
@FUZZ
def test_endpoint_create(doors, subscribed, body):
    response = doors.send("POST", "/endpoints", to_json(body))
    if response.status_code == 201:
        sent = json.loads(to_json(body))
        read = doors.api.get(f"{BASE}/endpoints/{response.json()['id']}")
        assert read.status_code == 200, read.content
        for name in ("customPayload", "eventFilter", "description"):
            if name in sent and sent[name] != {}:  # an empty object is stored as none: no filter, no custom payload
                assert same_json(sent[name], read.json()[name]), (name, sent[name], read.json()[name])
        published = doors.api.post(f"{BASE}/events", {"type": "product.created", "data": {"id": "p1"}}, format="json")
        assert published.status_code == 202, published.content  # its stored config must not break matching ingest
    doors.still_serving("/endpoints", "/events")


event_type_bodies = st.fixed_dictionaries(
    {"type": st.one_of(st.from_regex(r"\Acustom\.[a-z]{1,8}\Z"), text), "name": st.one_of(text, st.dictionaries(st.sampled_from(["en", "de"]), text, min_size=1)),
     "group": text},
    optional={"description": text, "eventSchema": st.dictionaries(text, st.sampled_from(["string", "number"]), max_size=2), "example": json_values},
)


@given(body=event_type_bodies)
@FUZZ
def test_event_type_create(doors, body):
    response = doors.send("POST", "/event-types", to_json(body))
    if response.status_code == 201:
        key = response.json()["type"]
        read = doors.api.get(f"{BASE}/event-types/{key}")
        assert read.status_code == 200 and same_json(json.loads(to_json(body))["type"], read.json()["type"]), read.content
        assert EventType.objects.filter(key=key).exists()
    doors.still_serving("/event-types", "/event-subscriptions")


source_bodies = st.fixed_dictionaries(
    {"name": st.one_of(st.from_regex(r"\A[a-z]{1,10}\Z"), text), "exchange": st.one_of(st.just("shop.events"), text),
     "bindingKeys": st.one_of(st.just(["product.#"]), st.lists(text, min_size=1, max_size=2))},
    optional={"typeField": text, "catchAllType": st.one_of(st.just("product.created"), text), "description": text},
)


@given(body=source_bodies)
@FUZZ
def test_source_create(doors, body):
    response = doors.send("POST", "/sources", to_json(body))
    if response.status_code == 201:
        sent = json.loads(to_json(body))
        read = doors.api.get(f"{BASE}/sources/{response.json()['id']}")
        assert read.status_code == 200 and read.json()["name"] == sent["name"], read.content
        assert Source.objects.filter(pk=response.json()["id"]).exists()
    doors.still_serving("/sources", "/dead-letters")


# --- the broker ------------------------------------------------------------------------------------------------------


@pytest.fixture
def broker_rules(tenant, other_tenant):
    from subscriptions.broker.sources import create_source

    create_source(tenant, {"name": "fuzz", "exchange": "fuzz.events", "binding_keys": ["#"], "catch_all_type": "product.created"})
    create_source(other_tenant, {"name": "good", "exchange": "good.events", "binding_keys": ["#"]})


def broker_message(exchange, routing_key, body: bytes, message_id):
    from subscriptions.core.messages import Message
    from subscriptions.broker.ingest import Delivered

    return Delivered(tag=0, message=Message(exchange, routing_key, body, {"contentType": "application/json", "messageId": message_id}))


def check_broker_message(doors, tenant, data):
    """A message body with anything in it becomes an event that reads back, or a dead letter of its tenant; the other
    tenant's message in the same batch is stored either way."""
    from subscriptions.broker.ingest import RulesCache, ingest_batch

    cache.clear()
    bad_id, good_id = f"fuzz-{uuid.uuid4().hex}", f"good-{uuid.uuid4().hex}"
    before = DeadLetter.objects.count()
    ingest_batch(
        [broker_message("fuzz.events", "product.created", to_json(data).encode("utf-8"), bad_id),
         broker_message("good.events", "product.created", b'{"ok": true}', good_id)],
        RulesCache(),
    )
    stored = Event.objects.filter(tenant=tenant, event_id=bad_id).first()
    if stored is not None:
        assert same_json(json.loads(to_json(data)), stored.data)
    else:
        dead = DeadLetter.objects.order_by("-pk")[: DeadLetter.objects.count() - before]
        assert [row.tenant_id for row in dead] == [tenant.pk], "neither stored nor dead-lettered to its tenant"
    assert Event.objects.filter(tenant__name="globex", event_id=good_id).exists()
    doors.still_serving("/events", "/dead-letters")


@given(data=json_objects)
@FUZZ
def test_broker_message_body(doors, tenant, broker_rules, data):
    check_broker_message(doors, tenant, data)

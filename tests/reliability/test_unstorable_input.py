"""Text and numbers no database keeps are refused at every HTTP door with a 400 naming where they sit, and nothing is
stored: lone surrogates (valid JSON escapes, yet not characters), NUL, numbers that are not finite, date-times that
leave the years 1 to 9999 once in UTC. SQLite and PostgreSQL failed differently here (a 500 on one, a row that breaks
every later read or a silent drop on the other): run this file on both."""

import pytest

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Endpoint, Event, EventType, Source
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db
BASE = "/webhook/acme"
SURROGATE_MESSAGE = "lone surrogate"


def post_raw(api, path, raw, method="POST"):
    return api.generic(method, f"{BASE}{path}", raw, content_type="application/json")


def assert_refused(response, field, fragment):
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"code", "status", "message", "details", "problems"} and body["status"] == "Bad Request"
    assert any(d["field"] == field and fragment in d["message"] for d in body["problems"]), body
    assert field in body["message"] or len(body["problems"]) > 1


@pytest.fixture
def subscribed(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))


# Lone surrogates, in values and keys, at each door --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, field",
    [
        (rb'{"type": "product.created", "data": {"x": "\ud800"}}', "data.x"),
        (rb'{"type": "product.created", "data": {"x": "a\udfffb"}}', "data.x"),
        (rb'{"type": "product.created", "data": {"\ud800": 1}}', "data"),
        (rb'{"type": "product.created", "data": {"list": [1, "\uDBFF"]}}', "data.list[1]"),
        (rb'[{"type": "product.created", "data": {}}, {"type": "product.created", "data": {"x": "\ud800\ud800\udc00"}}]', "[1].data.x"),
        (rb'{"type": "product.created", "id": "\ud800", "data": {}}', "id"),
    ],
    ids=["value", "low-surrogate", "key", "in-list", "second-item", "id"],
)
def test_ingest_refuses_a_lone_surrogate_naming_the_field_and_the_log_stays_readable(api, subscribed, raw, field):
    assert_refused(post_raw(api, "/events", raw), field, SURROGATE_MESSAGE)
    assert not Event.objects.exists()
    assert api.get(f"{BASE}/events").status_code == 200


def test_a_surrogate_pair_is_one_character_and_is_stored(api, subscribed):
    response = post_raw(api, "/events", rb'{"type": "product.created", "data": {"smile": "\ud83d\ude00"}}')
    assert response.status_code == 202 and response.json()[0]["created"]
    assert api.get(f"{BASE}/events").json()[0]["data"] == {"smile": "\U0001F600"}


def test_an_endpoint_with_a_surrogate_custom_payload_key_is_not_saved_and_the_list_stays_readable(api, subscribed):
    raw = rb'{"url": "https://hooks.example.com/a", "events": ["product.created"], "customPayload": {"\ud800": "/data/id"}}'
    assert_refused(post_raw(api, "/endpoints", raw), "customPayload", SURROGATE_MESSAGE)
    assert not Endpoint.objects.exists()
    assert api.get(f"{BASE}/endpoints").status_code == 200
    assert post_raw(api, "/events", b'{"type": "product.created", "data": {"id": "p1"}}').status_code == 202


def test_an_endpoint_update_with_a_surrogate_in_its_filter_changes_nothing(api, tenant):
    endpoint = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]
    raw = rb'{"eventFilter": {"data.name": {"$eq": "\ud800"}}}'
    assert_refused(post_raw(api, f"/endpoints/{endpoint.pk}", raw, method="PATCH"), "eventFilter.data.name.$eq", SURROGATE_MESSAGE)
    assert Endpoint.objects.get().event_filter is None


def test_event_type_create_refuses_a_surrogate(api):
    raw = rb'{"type": "custom.thing", "name": {"en": "\ud800"}, "group": {"en": "g"}, "description": {"en": "d"}, "eventSchema": {}}'
    assert_refused(post_raw(api, "/event-types", raw), "name.en", SURROGATE_MESSAGE)
    assert not EventType.objects.filter(key="custom.thing").exists()


def test_preview_refuses_a_surrogate_in_the_sample(api, tenant):
    endpoint = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]
    raw = rb'{"eventType": "product.created", "data": {"x": "\udc00"}}'
    assert_refused(post_raw(api, f"/endpoints/{endpoint.pk}/preview", raw), "data.x", SURROGATE_MESSAGE)


def test_patch_event_subscriptions_refuses_a_surrogate_naming_the_item(api):
    raw = rb'[{"eventType": "product.created", "action": "SUBSCRIBE"}, {"eventType": "\ud800", "action": "SUBSCRIBE"}]'
    assert_refused(post_raw(api, "/event-subscriptions", raw, method="PATCH"), "[1].eventType", SURROGATE_MESSAGE)
    assert api.get(f"{BASE}/event-subscriptions").status_code == 200


def test_source_create_refuses_a_surrogate_in_a_binding_key(api):
    raw = rb'{"name": "shop", "exchange": "shop.events", "bindingKeys": ["product.#", "\ud800"]}'
    assert_refused(post_raw(api, "/sources", raw), "bindingKeys[1]", SURROGATE_MESSAGE)
    assert not Source.objects.exists()


@pytest.mark.parametrize("query", ["type=%ED%A0%80", "type=%ud800", "type=%C0%80", "pageSize=%ED%A0%80"])
def test_an_encoded_surrogate_in_a_query_string_is_never_a_server_error(api, query):
    # Django reads broken UTF-8 in a query string as U+FFFD: nothing unencodable gets through, whatever the database.
    assert api.get(f"{BASE}/events?{query}").status_code in (200, 400)


@pytest.mark.parametrize("path", ["/event-types/%ED%A0%80", "/endpoints/%ED%A0%80", "/deliveries/%ED%A0%80", "/sources/%ED%B0%80"])
def test_an_encoded_surrogate_in_a_path_segment_is_never_a_server_error(api, path):
    assert api.get(f"{BASE}{path}").status_code == 404


# NUL -------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/webhook/acme/event-types/%00", "/webhook/acme/endpoints/a%00b", "/webhook/acme/sources/%00/"])
def test_a_nul_in_an_api_path_segment_is_400(api, path):
    assert_refused(api.get(path), "path", "NUL")


def test_a_nul_in_a_json_key_is_refused_naming_where(api, subscribed):
    assert_refused(post_raw(api, "/events", rb'{"type": "product.created", "data": {"a": {"b\u0000": 1}}}'), "data.a", "NUL")
    assert not Event.objects.exists()


def test_a_nul_in_a_form_field_is_400_naming_the_field(client):
    response = client.post("/oauth/token", {"grant_type": "client_credentials", "client_id": "a\x00", "client_secret": "x"})
    assert_refused(response, "client_id", "NUL")


def test_a_nul_in_a_query_parameter_names_it(api):
    assert_refused(api.get(f"{BASE}/deliveries?eventType=a%00b"), "eventType", "NUL")


def test_an_encoded_percent_00_is_text_not_nul(api):
    assert api.get(f"{BASE}/events?type=a%2500b").status_code == 200


# Numbers ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal, shown",
    [(b"1e400", "1e400"), (b"-1e400", "-1e400"), (b"1" + b"0" * 400 + b".5", "overflows"), (b"NaN", "NaN"), (b"Infinity", "Infinity"), (b"-Infinity", "-Infinity")],
    ids=["1e400", "-1e400", "long-decimal", "NaN", "Infinity", "-Infinity"],
)
def test_ingest_refuses_numbers_that_are_not_finite_and_drops_nothing_silently(api, subscribed, literal, shown):
    raw = b'[{"type": "product.created", "data": {}}, {"type": "product.created", "data": {"deep": [{"x": ' + literal + b"}]}}]"
    assert_refused(post_raw(api, "/events", raw), "[1].data.deep[0].x", shown)
    assert not Event.objects.exists()


def test_an_endpoint_filter_with_1e400_is_refused_at_the_number(api):
    raw = b'{"url": "https://hooks.example.com/a", "events": ["product.created"], "eventFilter": {"data.price": {"$gt": 1e400}}}'
    assert_refused(post_raw(api, "/endpoints", raw), "eventFilter.data.price.$gt", "1e400")
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("digits", [25, 400, 4300])
def test_huge_integers_are_stored_exactly_and_read_back(api, subscribed, digits):
    number = int("7" * digits)
    raw = b'{"type": "product.created", "id": "big", "data": {"n": ' + str(number).encode() + b', "neg": -' + str(number).encode() + b"}}"
    response = post_raw(api, "/events", raw)
    assert response.status_code == 202 and response.json()[0]["created"], response.content
    assert Event.objects.get().data == {"n": number, "neg": -number}
    listed = api.get(f"{BASE}/events")
    assert listed.status_code == 200 and listed.json()[0]["data"] == {"n": number, "neg": -number}


def test_an_integer_longer_than_python_reads_is_400_not_a_parse_crash(api, subscribed):
    raw = b'{"type": "product.created", "data": {"n": ' + b"7" * 5000 + b"}}"
    response = post_raw(api, "/events", raw)
    assert response.status_code == 400 and "digits" in response.json()["message"]
    assert not Event.objects.exists()


# Date-times ------------------------------------------------------------------------------------------------------------

OVERFLOWING = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]


@pytest.mark.parametrize("timestamp", OVERFLOWING)
def test_ingest_refuses_a_timestamp_that_leaves_the_calendar_in_utc(api, subscribed, timestamp):
    body = [{"type": "product.created", "data": {}}, {"type": "product.created", "timestamp": timestamp, "data": {}}]
    assert_refused(api.post(f"{BASE}/events", body, format="json"), "[1].timestamp", "out of the range")
    assert not Event.objects.exists()


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59.999Z"])
def test_ingest_keeps_the_extreme_timestamps_that_fit_and_reads_them_back(api, subscribed, timestamp):
    response = api.post(f"{BASE}/events", {"type": "product.created", "timestamp": timestamp, "data": {}}, format="json")
    assert response.status_code == 202 and response.json()[0]["created"]
    read = api.get(f"{BASE}/events").json()[0]["timestamp"]
    assert len(read) == 24 and read.endswith("Z")  # yyyy-mm-ddThh:mm:ss.mmmZ, the year in four digits


@pytest.mark.parametrize("since", OVERFLOWING)
def test_datetime_query_parameters_that_overflow_are_400(api, tenant, since):
    endpoint = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]
    assert_refused(api.get(f"{BASE}/deliveries", {"since": since}), "since", "out of the range")
    assert_refused(api.post(f"{BASE}/endpoints/{endpoint.pk}/replay?" + f"since={since.replace('+', '%2B')}"), "since", "out of the range")

"""Bodies built to hurt: each gets a clear 400/415 in the common error shape, and nothing is changed."""

import pytest

from subscriptions.models import EventSubscription

pytestmark = pytest.mark.django_db
URL = "/webhook/acme/event-subscriptions"


def patch_raw(api, raw, content_type="application/json"):
    return api.generic("PATCH", URL, raw, content_type=content_type)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'[{"eventType": "product.created", "action": "SUBSCRIBE", "x": "\xff\xfe"}]', "not UTF-8"),
        (b'[{"eventType": "product.created", "metadata": {"version": NaN}}]', "NaN, which is not a JSON number"),
        (b'[{"eventType": "product.created", "action": "SUBSCRIBE"}', "not valid JSON"),
        (b"", "must be a JSON list of objects"),
    ],
    ids=["deep-nesting", "broken-utf8", "nan", "truncated", "empty"],
)
def test_malformed_bodies_are_400_in_the_common_shape_and_change_nothing(api, raw, fragment):
    response = patch_raw(api, raw)
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"code", "status", "message", "details", "problems"} and body["code"] == 400 and body["status"] == "Bad Request"
    assert fragment in body["message"]
    assert not EventSubscription.objects.exists()


def test_a_body_that_is_not_json_is_415_naming_the_type(api):
    response = patch_raw(api, b"eventType=product.created", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in response.json()["message"]
    assert not EventSubscription.objects.exists()


def test_duplicate_keys_do_not_smuggle_a_second_value_past_validation(api):
    raw = b'[{"eventType": "nope", "eventType": "product.created", "action": "SUBSCRIBE"}]'
    response = patch_raw(api, raw)
    assert response.status_code == 207
    # The last value wins, as in every mainstream JSON parser: what was validated is what was applied.
    assert response.json()[0]["eventType"] == "product.created"
    assert EventSubscription.objects.get().event_type.key == "product.created"


def test_a_nul_character_in_a_json_string_is_refused_not_a_database_error(api):
    response = api.post("/webhook/acme/events", b'{"type": "product.created", "data": {"name": "a\\u0000b"}}', content_type="application/json")
    assert response.status_code == 400 and "NUL" in response.json()["message"]
    escaped = api.post("/webhook/acme/events", b'{"type": "product.created", "data": {"name": "a\\\\u0000b"}}', content_type="application/json")
    assert escaped.status_code == 202  # a backslash followed by "u0000" is ordinary text


@pytest.mark.parametrize("query", ["eventType=a%00b", "subscription=%00", "x=%00"])
def test_a_nul_character_in_a_query_parameter_is_400(api, query):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400 and "NUL" in response.json()["message"]


@pytest.mark.parametrize("since", ["0672-10-26T14:01:40+18:09", "2026-01-01T00:00:00-23:59", "9999-12-31T23:59:59-12:00"])
def test_odd_but_valid_time_zone_offsets_are_read_in_utc(api, since):
    response = api.get("/webhook/acme/deliveries", {"since": since})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert "since" in response.content.decode()

"""The dashboard's doors refuse what no database keeps, as the API does: a 400 naming the field, nothing saved.
Run on SQLite and on PostgreSQL: they failed differently (an OverflowError on one, a NUL refused by the other)."""

import pytest

from subscriptions.models import Endpoint

pytestmark = pytest.mark.django_db

ENDPOINT = {"url": "https://hooks.example.com/a", "method": "POST", "events": ["product.created"], "timeout_seconds": "15", "enabled": "on"}


@pytest.mark.parametrize(
    "field, text, fragment",
    [
        ("custom_payload", '{"\\ud800": "/data/id"}', "customPayload: Holds a key with a lone surrogate"),
        ("custom_payload", '{"id": "\\udfff"}', "At id: Holds a lone surrogate"),
        ("event_filter", '{"data.price": {"$gt": 1e400}}', "At data.price.$gt: Is 1e400"),
        ("event_filter", '{"data.price": {"$gt": NaN}}', "At data.price.$gt: Is NaN"),
        ("event_filter", '{"data.name": "a\\u0000"}', "At data.name: Holds a NUL character"),
    ],
    ids=["surrogate-key", "surrogate-value", "1e400", "NaN", "nul-escape"],
)
def test_the_endpoint_form_refuses_unstorable_json_at_its_field(owner, field, text, fragment):
    response = owner.post("/t/acme/endpoints/new/", {**ENDPOINT, field: text})
    assert response.status_code == 400
    assert fragment in response.content.decode()
    assert not Endpoint.objects.exists()
    assert owner.get("/t/acme/endpoints/").status_code == 200


def test_the_live_preview_refuses_a_surrogate_in_the_sample(owner):
    response = owner.post("/t/acme/endpoints/preview/", {**ENDPOINT, "preview_type": "product.created", "preview_sample": '{"x": "\\ud800"}'})
    assert response.status_code == 200 and response.json()["ok"] is False  # an answer of the live preview, not a logged 400
    assert "At x: Holds a lone surrogate" in response.json()["error"]


@pytest.mark.parametrize("path", ["/t/%00/", "/t/acme/catalog/%00/", "/t/acme/endpoints/%00/"])
def test_a_nul_in_a_dashboard_path_segment_is_400(owner, path):
    response = owner.get(path)
    assert response.status_code == 400 and response.json()["problems"] == [{"field": "path", "message": response.json()["message"]}]


def test_a_nul_in_a_form_field_is_400_naming_it_and_saves_nothing(owner):
    response = owner.post("/t/acme/endpoints/new/", {**ENDPOINT, "header_name": "X-Key", "header_value": "a\x00b"})
    assert response.status_code == 400 and response.json()["problems"][0]["field"] == "header_value"
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("query", ["since=9999-12-31T23:59:59-14:00", "until=0001-01-01T00:00:00%2B14:00"])
def test_a_delivery_filter_date_that_overflows_in_utc_is_a_field_error(owner, query):
    response = owner.get(f"/t/acme/deliveries/?{query}")
    assert response.status_code == 200
    assert "out of the range of date-times" in response.content.decode()


def test_a_replay_since_that_overflows_in_utc_is_refused(owner, endpoint):
    response = owner.post(f"/t/acme/endpoints/{endpoint.pk}/replay/", {"since": "9999-12-31T23:59:59-14:00"}, follow=True)
    assert response.status_code == 200
    assert "Give the time to replay from." in response.content.decode()

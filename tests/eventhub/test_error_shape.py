"""Every API error is Emporix's ErrorMessage: {code, status (the reason phrase), message, details (strings)}, with the
problems' fields in `problems`; a server error and an undeclared method too, never an HTML page."""

import pytest
from django.test import RequestFactory

from eventhub.api import server_error

pytestmark = pytest.mark.django_db

URL = "/webhook/acme/event-subscriptions"


def assert_error_message(response, code, status):
    assert response.status_code == code
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert (body["code"], body["status"]) == (code, status)
    assert isinstance(body["message"], str) and body["message"]
    assert all(isinstance(detail, str) for detail in body["details"])
    return body


def test_a_validation_error_lists_each_problem_as_a_string_and_with_its_field(api):
    response = api.patch(URL, [{"eventType": "product.created", "action": "FOLLOW", "fieldsToSubscribe": "name"}], format="json")
    body = assert_error_message(response, 400, "Bad Request")
    assert sorted(body["details"]) == sorted(f"{p['field']}: {p['message']}" for p in body["problems"])
    assert {p["field"] for p in body["problems"]} == {"[0].action", "[0].fieldsToSubscribe"}


def test_a_server_error_is_a_json_error_message_without_the_traceback(api, monkeypatch, caplog):
    from subscriptions import selectors

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "event_subscriptions", broken)
    body = assert_error_message(api.get(URL), 500, "Internal Server Error")
    assert "secret internals" not in str(body) and "Traceback" not in str(body)
    assert "secret internals" in caplog.text  # logged for the operator


def test_a_server_error_outside_a_view_is_json_on_api_paths_and_html_elsewhere():
    api = server_error(RequestFactory().get(URL))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    page = server_error(RequestFactory().get("/t/acme/"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_an_undeclared_method_is_a_405_error_message_naming_the_allowed_ones(api):
    response = api.delete(URL)
    body = assert_error_message(response, 405, "Method Not Allowed")
    assert "DELETE" in body["message"]
    assert set(response["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH"}


def test_an_unknown_api_path_is_a_json_404(api):
    assert_error_message(api.get("/webhook/acme/no-such-resource"), 404, "Not Found")


def test_an_error_without_a_token_is_both_error_message_and_gateway_fault(client):
    body = assert_error_message(client.get(URL), 401, "Unauthorized")
    assert set(body["fault"]) == {"faultstring", "detail"}

"""One validator set, three doors: the same bad value is refused with the same words by the API, the dashboard's form
and the Django admin's form, at the same field (and, inside a JSON value, at the same path). Nothing is saved."""

import json
import re

import pytest
from django.test import Client

from subscriptions.broker.sources import create_source
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Endpoint, EventSubscription, Source
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.models import Role, Tenant
from tenants.services import add_member, ensure_user

pytestmark = pytest.mark.django_db

TOO_MANY_HEADERS = {f"X-H{i}": "v" for i in range(51)}
PRIVATE = "'10.0.0.1' is a private, loopback or link-local address; webhooks go to public addresses only."

# (model field, bad value, path inside the value, the words every door must use)
ENDPOINT_CASES = [
    ("url", "http://10.0.0.1/hook", "", PRIVATE),
    ("url", "ftp://hooks.example.com/x", "", "Only http:// and https:// URLs can receive webhooks."),
    ("headers", TOO_MANY_HEADERS, "", "At most 50 headers are allowed."),
    ("headers", {"webhook-signature": "v1,forged"}, "",
     "'webhook-signature' is set by the hub (or belongs to one connection) and cannot be configured."),
    ("headers", {"X-Evil": "a\r\nInjected: 1"}, "", "'X-Evil' may not contain line breaks or NUL characters."),
    ("events", ["prodcut.*"], "", "'prodcut.*' matches no event type in the catalog."),
    ("events", ["bad pattern!"], "", "'bad pattern!' is not an event type or a pattern with '*'."),
    ("events", [], "", "Ensure this field has at least 1 elements."),
    ("event_filter", {"data.price": {"$between": [1, 2]}}, "data.price", "unknown operator $between"),
    ("event_filter", {"$or": [{"data.id": "x"}, {"data.price": {"$nope": 1}}]}, "$or[1].data.price", "unknown operator $nope"),
    ("event_filter", "data.x == 1", "", "eventFilter must be an object of path: condition."),
    ("custom_payload", {"Id": "data/id"}, "Id", "invalid JSON pointer 'data/id': Location must start with /"),
    ("custom_payload", [1], "", "customPayload must be an object whose leaves are JSON pointers."),
    ("rate_limit", 0, "", "rateLimit must be a whole number of deliveries a second from 1 to 10000, or null."),
    ("rate_limit", 10_001, "", "rateLimit must be a whole number of deliveries a second from 1 to 10000, or null."),
    ("retry_schedule", [5, 0], "1", "A wait is a whole number of seconds from 1 to 86400 (a day)."),
    ("retry_schedule", [5, 86_401], "1", "A wait is a whole number of seconds from 1 to 86400 (a day)."),
    ("retry_schedule", [60] * 21, "", "retrySchedule must be a list of at most 20 waits in seconds, or null."),
    ("ordering", {"key": "data/entryID"}, "key", "Invalid JSON pointer 'data/entryID': it must start with / (e.g. \"/data/entryID\")."),
    ("ordering", {"key": "/entryID"}, "key",
     'Must point into the event: start with /id, /type, /timestamp, /tenant, /data (e.g. "/data/entryID").'),
    ("ordering", {"key": "/data/" + "x" * 200}, "key", "At most 200 characters."),
    ("ordering", {"key": "/data/x", "order": "asc"}, "", "Unknown property 'order': ordering has only 'key'."),
    ("ordering", "/data/entryID", "", 'ordering must be an object: {"key": "/data/..."} (or null for none).'),
]
SOURCE_CASES = [
    ("exchange", "eventhub.mine", "", "Exchange names starting with 'eventhub.' belong to the hub."),
    ("exchange", "amq.direct", "", "Of the broker's own 'amq.' exchanges only amq.topic can be a source."),
    ("binding_keys", ["a..b"], "", "'a..b' has an empty word: words are separated by single dots."),
    ("binding_keys", [f"k{i}" for i in range(51)], "", "Ensure this field has no more than 50 elements."),
    ("catch_all_type", "no.such.type", "", "'no.such.type' is not an event type of the catalog."),
    ("type_field", "", "", "Required when typeFrom is body_field: the body field holding the type."),
]
ENDPOINT_JSON = ("headers", "events", "event_filter", "custom_payload", "retry_schedule", "ordering")
ENDPOINT_WIRE = {"url": "url", "headers": "headers", "events": "events", "event_filter": "eventFilter",
                 "custom_payload": "customPayload", "rate_limit": "rateLimit", "retry_schedule": "retrySchedule",
                 "ordering": "ordering"}
SOURCE_WIRE = {"exchange": "exchange", "binding_keys": "bindingKeys", "catch_all_type": "catchAllType",
               "type_field": "typeField"}

GOOD_ENDPOINT = {"url": "https://hooks.example.com/a", "events": ["product.*"], "headers": {},
                 "event_filter": None, "custom_payload": None, "rate_limit": None, "retry_schedule": None,
                 "ordering": None}
GOOD_SOURCE = {"name": "shop", "exchange": "shop.events", "binding_keys": ["product.#"], "catch_all_type": "",
               "type_from": "property_or_routing_key", "type_field": ""}


def api_refusal(response, wire_field):
    """[(path inside the field, message)] from the API's 400: each problem with its field ("eventFilter.data.price")."""
    assert response.status_code == 400, response.content
    body, found = response.json(), []
    for detail in body.get("problems", body["details"]):  # "problems" once errors take Emporix's ErrorMessage shape
        field, _, path = detail["field"].partition(".")
        assert field == wire_field, response.json()
        found.append((path, detail["message"]))
    return found


def form_refusal(errors, field):
    """[(path, message)] from a Django form's errors at `field`; "At data.price: ..." says the path."""
    assert list(errors) == [field], errors
    return [(m[1], m[2]) if (m := re.fullmatch(r"At (\S+): (.*)", text, re.S)) else ("", text) for text in errors[field]]


def editor():
    user, _ = ensure_user("editor", "pw-123456!")
    add_member(Tenant.objects.get(name="acme"), user, Role.EDITOR)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_post(admin_client):
    """admin_post(obj, fields, json_fields) POSTs the admin's change form of `obj` as a superuser (pytest-django's
    admin_client); `json_fields` are written as the admin's JSON textareas hold them."""

    def post(obj, fields, json_fields=()):
        form = {name: json.dumps(value) if name in json_fields else "" if value is None else value
                for name, value in fields.items()}
        return admin_client.post(f"/admin/subscriptions/{type(obj).__name__.lower()}/{obj.pk}/change/", form)

    return post


def admin_errors(response):
    assert response.status_code == 200, response.status_code  # the form again, not a redirect: nothing was saved
    return response.context["adminform"].form.errors


# --- endpoints ------------------------------------------------------------------------------------


@pytest.fixture
def endpoint(tenant):
    return create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]


@pytest.mark.parametrize("field, value, path, message", ENDPOINT_CASES, ids=lambda v: str(v)[:30])
def test_the_api_refuses_a_bad_endpoint_value_in_the_rules_words(api, field, value, path, message):
    wire = {ENDPOINT_WIRE[name]: v for name, v in {**GOOD_ENDPOINT, field: value}.items()}
    response = api.post("/webhook/acme/endpoints", wire, format="json")
    assert api_refusal(response, ENDPOINT_WIRE[field]) == [(path, message)]
    assert not Endpoint.objects.exists()


def dashboard_endpoint_form(field, value):
    """The dashboard's endpoint form holding `value` for `field` (JSON as text, headers as rows, events as patterns)."""
    values = {**GOOD_ENDPOINT, field: value}
    headers = values["headers"] if isinstance(values["headers"], dict) else {}
    return {
        "url": values["url"], "method": "POST", "timeout_seconds": 15, "enabled": "on", "patterns": "\n".join(values["events"]),
        "event_filter": "" if values["event_filter"] is None else json.dumps(values["event_filter"]),
        "custom_payload": "" if values["custom_payload"] is None else json.dumps(values["custom_payload"]),
        "ordering": "" if values["ordering"] is None else json.dumps(values["ordering"]),
        "header_name": list(headers) + [""], "header_value": list(headers.values()) + [""],
        "rate_limit": "" if values["rate_limit"] is None else values["rate_limit"],
        "retry_schedule": "" if values["retry_schedule"] is None else ", ".join(map(str, values["retry_schedule"])),
    }


@pytest.mark.parametrize("field, value, path, message", ENDPOINT_CASES, ids=lambda v: str(v)[:30])
def test_the_dashboard_refuses_a_bad_endpoint_value_in_the_rules_words(tenant, field, value, path, message):
    response = editor().post("/t/acme/endpoints/new/", dashboard_endpoint_form(field, value))
    assert response.status_code == 400
    errors = response.context["form"].errors
    if field == "headers":  # the header rows are no one field: their problems head the form, labelled
        errors = {"headers": [text.removeprefix("Headers: ") for text in errors.pop("__all__")], **errors}
    elif field == "events":  # types are picked and patterns typed, but judged as one list
        errors = {"events": errors.pop("events"), **errors}
    assert form_refusal(errors, field) == [(path, message)]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("field, value, path, message", ENDPOINT_CASES, ids=lambda v: str(v)[:30])
def test_the_admin_refuses_a_bad_endpoint_value_in_the_rules_words(admin_post, endpoint, field, value, path, message):
    fields = {**GOOD_ENDPOINT, "method": "POST", "payload_format": "envelope", "enabled": "on", "description": "",
              "timeout_seconds": "15", field: value}
    response = admin_post(endpoint, fields, json_fields=ENDPOINT_JSON)
    assert form_refusal(admin_errors(response), field) == [(path, message)]
    assert Endpoint.objects.get().url == "https://hooks.example.com/a" and Endpoint.objects.get().version == 1


def test_the_admin_saves_a_good_endpoint_change_through_the_service(admin_post, endpoint):
    # The service's rules hold too: the version moves (API clients' compare-and-swap sees the change) and enabling
    # clears the reason a failing endpoint was disabled.
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason="failing for 3 days")
    fields = {**GOOD_ENDPOINT, "url": "https://hooks.example.com/b", "events": ["product.*", "product.*"], "method": "POST",
              "payload_format": "envelope", "enabled": "on", "description": "", "timeout_seconds": "15"}
    response = admin_post(endpoint, fields, json_fields=ENDPOINT_JSON)
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.version) == ("https://hooks.example.com/b", ["product.*"], 2)
    assert endpoint.enabled and endpoint.disabled_reason == ""


def test_the_admin_creates_no_endpoint_or_source_without_the_secret_shown_once(admin_client, endpoint):
    assert admin_client.get("/admin/subscriptions/endpoint/add/").status_code == 403
    assert admin_client.get("/admin/subscriptions/source/add/").status_code == 403
    assert admin_client.get(f"/admin/subscriptions/endpoint/{endpoint.pk}/change/").status_code == 200


# --- sources --------------------------------------------------------------------------------------


def source_values(field, value):
    values = {**GOOD_SOURCE, field: value}
    if field == "type_field":
        values["type_from"] = "body_field"
    return values


@pytest.mark.parametrize("field, value, path, message", SOURCE_CASES, ids=lambda v: str(v)[:30])
def test_the_api_refuses_a_bad_source_value_in_the_rules_words(api, field, value, path, message):
    values = source_values(field, value)
    wire = {"name": values["name"], "exchange": values["exchange"], "bindingKeys": values["binding_keys"],
            "catchAllType": values["catch_all_type"], "typeFrom": values["type_from"], "typeField": values["type_field"]}
    response = api.post("/webhook/acme/sources", wire, format="json")
    assert api_refusal(response, SOURCE_WIRE[field]) == [(path, message)]
    assert not Source.objects.exists()


@pytest.mark.parametrize("field, value, path, message", SOURCE_CASES, ids=lambda v: str(v)[:30])
def test_the_dashboard_refuses_a_bad_source_value_in_the_rules_words(tenant, field, value, path, message):
    form = {**source_values(field, value), "exchange_type": "topic", "description": "", "enabled": "on"}
    form["binding_keys"] = "\n".join(form["binding_keys"])
    response = editor().post("/t/acme/sources/new/", form)
    assert response.status_code == 400
    assert form_refusal(response.context["form"].errors, field) == [(path, message)]
    assert not Source.objects.exists()


@pytest.mark.parametrize("field, value, path, message", SOURCE_CASES, ids=lambda v: str(v)[:30])
def test_the_admin_refuses_a_bad_source_value_in_the_rules_words(admin_post, tenant, field, value, path, message):
    source = create_source(tenant, {"name": "shop", "exchange": "shop.events", "binding_keys": ["product.#"]})
    fields = {**source_values(field, value), "exchange_type": "topic", "description": "", "enabled": "on"}
    response = admin_post(source, fields, json_fields=["binding_keys"])
    assert form_refusal(admin_errors(response), field) == [(path, message)]
    source.refresh_from_db()
    assert (source.exchange, source.binding_keys, source.version) == ("shop.events", ["product.#"], 1)


def test_the_admin_refuses_a_source_name_the_tenant_has_already(admin_post, tenant):
    create_source(tenant, {"name": "taken", "exchange": "shop.events", "binding_keys": ["product.#"]})
    source = create_source(tenant, {"name": "shop", "exchange": "shop.events", "binding_keys": ["product.#"]})
    fields = {**GOOD_SOURCE, "name": "taken", "exchange_type": "topic", "description": "", "enabled": "on"}
    errors = admin_errors(admin_post(source, fields, json_fields=["binding_keys"]))
    assert "already exists" in str(errors)
    source.refresh_from_db()
    assert source.name == "shop"


# --- subscriptions --------------------------------------------------------------------------------


def test_the_api_and_the_admin_refuse_to_exclude_a_field_the_type_does_not_have(admin_post, tenant, api):
    answer = api.patch("/webhook/acme/event-subscriptions",
                       [{"eventType": "product.created", "action": "SUBSCRIBE", "fieldsToUnsubscribe": ["nosuchfield"]}],
                       format="json")
    [item] = answer.json()
    assert item["code"] == 400
    assert apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE")).ok
    subscription = EventSubscription.objects.get()
    fields = {"tenant": str(tenant.pk), "event_type": str(subscription.event_type_id), "state": "SUBSCRIBED",
              "excluded_fields": json.dumps(["nosuchfield"]), "version": "1",
              "created_at_0": "2026-01-01", "created_at_1": "00:00:00", "modified_at_0": "2026-01-01", "modified_at_1": "00:00:00"}
    errors = admin_errors(admin_post(subscription, fields))
    assert errors == {"excluded_fields": [item["message"]]}
    assert item["message"].startswith("Field 'nosuchfield' is not a field of event type 'product.created'; its fields are: ")
    assert EventSubscription.objects.get().excluded_fields == []

"""Every answer of the paths eventhub shares with Emporix's webhook service, checked against Emporix's own OpenAPI
document (docs/reference/emporix-webhook-service.yml) with openapi-core: each (path, method, status) the document
declares is produced here, or listed in UNREACHABLE with the reason eventhub never answers it."""

from pathlib import Path

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

SPEC_FILE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "emporix-webhook-service.yml"
SPEC = OpenAPI.from_file_path(str(SPEC_FILE))
ERROR_MESSAGE = OAS30Validator(yaml.safe_load(SPEC_FILE.read_text())["components"]["schemas"]["ErrorMessage"])
SERVED = ("/webhook/{tenant}/event-subscriptions", "/webhook/{tenant}/config", "/webhook/{tenant}/config/{code}",
          "/webhook/{tenant}/statistics")

UNREACHABLE = {
    ("/webhook/{tenant}/event-subscriptions", "get", "404"): "the catalog is never empty (its built-in types)",
    ("/webhook/{tenant}/event-subscriptions", "patch", "404"): "an unknown type is a 404 of its item in the 207",
    ("/webhook/{tenant}/event-subscriptions", "patch", "409"): "a stale version is a 409 of its item in the 207",
}


def conforms(response, method, path):
    """Validate an eventhub answer against the document's operation for (method, path); returns the answer."""
    content_type = response.get("Content-Type", "application/json").split(";")[0]
    body = response.content if response.content else b""
    SPEC.validate_response(
        MockRequest("https://api.emporix.io", method, path),
        MockResponse(body, status_code=response.status_code, content_type=content_type),
    )
    return response


class Call:
    """What a case needs: a client with every scope, a reader, another tenant's client, monkeypatch."""

    def __init__(self, api, reader, stranger, monkeypatch):
        self.api, self.reader, self.stranger, self.monkeypatch = api, reader, stranger, monkeypatch

    def broken(self, module, name):
        def broken(*args, **kwargs):
            raise RuntimeError("a bug")

        self.monkeypatch.setattr(module, name, broken)
        return self

    def conflicting(self):
        """The next write finds an endpoint of the configuration changed meanwhile (a compare-and-swap lost)."""
        from subscriptions.endpoints import services

        self.monkeypatch.setattr(services, "update_endpoint", lambda endpoint, values, version: services.Conflict(endpoint))
        return self

    def with_config(self, body=None):
        response = self.api.post(CONFIGS, body or HTTP_CONFIG, format="json")
        assert response.status_code == 201, response.content
        return self


# --- event-subscriptions -----------------------------------------------------------------------------------------

SUBSCRIPTIONS = "/webhook/acme/event-subscriptions"
ITEM = [{"eventType": "product.created", "action": "SUBSCRIBE"}]


def _selectors():
    from subscriptions import selectors

    return selectors


def _services():
    from subscriptions import services

    return services


def _emporix(name):
    from subscriptions.emporix import selectors, services

    return {"selectors": selectors, "services": services}[name]


ES = "/webhook/{tenant}/event-subscriptions"
CASES = {
    (ES, "get", "200"): lambda c: c.api.get(SUBSCRIPTIONS),
    (ES, "get", "400"): lambda c: c.api.get(SUBSCRIPTIONS, {"subscription": "MAYBE"}),
    (ES, "get", "401"): lambda c: APIClient().get(SUBSCRIPTIONS),
    (ES, "get", "403"): lambda c: c.stranger.get(SUBSCRIPTIONS),
    (ES, "get", "500"): lambda c: c.broken(_selectors(), "event_subscriptions").api.get(SUBSCRIPTIONS),
    (ES, "patch", "207"): lambda c: c.api.patch(SUBSCRIPTIONS, ITEM + [{"eventType": "no.such"}], format="json"),
    (ES, "patch", "400"): lambda c: c.api.patch(SUBSCRIPTIONS, [{"eventType": "product.created", "metadata": {"version": 0}}], format="json"),
    (ES, "patch", "401"): lambda c: APIClient().patch(SUBSCRIPTIONS, ITEM, format="json"),
    (ES, "patch", "403"): lambda c: c.reader.patch(SUBSCRIPTIONS, ITEM, format="json"),
    (ES, "patch", "500"): lambda c: c.broken(_services(), "apply_subscription_change").api.patch(SUBSCRIPTIONS, ITEM, format="json"),
}

# --- config ------------------------------------------------------------------------------------------------------

CONFIGS, HTTP = "/webhook/acme/config", "/webhook/acme/config/http"
HTTP_CONFIG = {"code": "http", "provider": "HTTP", "active": True, "configuration": {
    "destinationUrl": "https://hooks.example.com/all", "secretKey": "password123", "headers": {"X-Key": {"value": "k"}},
    "eventsConfiguration": [{"eventType": "PRODUCT.CREATED", "filter": "$[?(@.code == 'abc')]", "excludedFields": []},
                            {"eventType": "PRODUCT.CREATED", "name": "second"}]}}
UPDATE = {key: value for key, value in HTTP_CONFIG.items() if key != "code"}
NAME = [{"op": "UPSERT", "path": "/active", "value": False}]
LEGACY = [{"op": "UPSERT", "path": "/configuration/http/eventsConfiguration/product.created/secretKey", "value": "x"}]
C, CC = "/webhook/{tenant}/config", "/webhook/{tenant}/config/{code}"
CASES |= {
    (C, "get", "200"): lambda c: c.with_config().api.get(CONFIGS),
    (C, "get", "401"): lambda c: APIClient().get(CONFIGS),
    (C, "get", "403"): lambda c: c.stranger.get(CONFIGS),
    (C, "get", "500"): lambda c: c.broken(_emporix("selectors"), "configs").api.get(CONFIGS),
    (C, "post", "201"): lambda c: c.api.post(CONFIGS, HTTP_CONFIG, format="json"),
    (C, "post", "400"): lambda c: c.api.post(CONFIGS, {**HTTP_CONFIG, "provider": "SVIX"}, format="json"),
    (C, "post", "401"): lambda c: APIClient().post(CONFIGS, HTTP_CONFIG, format="json"),
    (C, "post", "403"): lambda c: c.reader.post(CONFIGS, HTTP_CONFIG, format="json"),
    (C, "post", "409"): lambda c: c.with_config().api.post(CONFIGS, HTTP_CONFIG, format="json"),
    (C, "post", "500"): lambda c: c.broken(_emporix("services"), "create_config").api.post(CONFIGS, HTTP_CONFIG, format="json"),
    (CC, "get", "200"): lambda c: c.with_config().api.get(HTTP),
    (CC, "get", "401"): lambda c: APIClient().get(HTTP),
    (CC, "get", "403"): lambda c: c.stranger.get(HTTP),
    (CC, "get", "404"): lambda c: c.api.get(HTTP),
    (CC, "get", "500"): lambda c: c.with_config().broken(_emporix("selectors"), "config_body").api.get(HTTP),
    (CC, "put", "204"): lambda c: c.api.put(HTTP, UPDATE, format="json"),
    (CC, "put", "400"): lambda c: c.api.put(HTTP, {**UPDATE, "provider": "SVIX_SHARED"}, format="json"),
    (CC, "put", "401"): lambda c: APIClient().put(HTTP, UPDATE, format="json"),
    (CC, "put", "403"): lambda c: c.reader.put(HTTP, UPDATE, format="json"),
    (CC, "put", "409"): lambda c: c.with_config().conflicting().api.put(HTTP, UPDATE, format="json"),
    (CC, "put", "500"): lambda c: c.broken(_emporix("services"), "replace_config").api.put(HTTP, UPDATE, format="json"),
    (CC, "patch", "204"): lambda c: c.with_config().api.patch(HTTP, NAME, format="json"),
    (CC, "patch", "400"): lambda c: c.with_config().api.patch(HTTP, [{"op": "UPSERT", "path": "/x", "value": 1}], format="json"),
    (CC, "patch", "401"): lambda c: APIClient().patch(HTTP, NAME, format="json"),
    (CC, "patch", "403"): lambda c: c.reader.patch(HTTP, NAME, format="json"),
    (CC, "patch", "409"): lambda c: c.with_config().api.patch(HTTP, LEGACY, format="json"),
    (CC, "patch", "500"): lambda c: c.with_config().broken(_emporix("services"), "replace_config").api.patch(HTTP, NAME, format="json"),
    (CC, "delete", "204"): lambda c: c.with_config().api.delete(f"{HTTP}?force=true"),
    (CC, "delete", "401"): lambda c: APIClient().delete(HTTP),
    (CC, "delete", "403"): lambda c: c.reader.delete(HTTP),
    (CC, "delete", "500"): lambda c: c.broken(_emporix("services"), "delete_config").api.delete(HTTP),
}

# --- statistics --------------------------------------------------------------------------------------------------

STATISTICS, ST = "/webhook/acme/statistics", "/webhook/{tenant}/statistics"


def _limits():
    from subscriptions.emporix import limits

    return limits


def _with_limit(call):
    from tenants.models import Tenant

    Tenant.objects.filter(name="acme").update(webhooks_limit=10000)
    return call


CASES |= {
    (ST, "get", "200"): lambda c: _with_limit(c).api.get(STATISTICS, {"fromYearMonth": "2026-01", "toYearMonth": "2026-03"}),
    (ST, "get", "401"): lambda c: APIClient().get(STATISTICS),
    (ST, "get", "403"): lambda c: c.stranger.get(STATISTICS),
    (ST, "get", "500"): lambda c: c.broken(_limits(), "sent_per_month").api.get(STATISTICS),
}

# Answers eventhub gives beyond the document, each an ErrorMessage: a tenant name no tenant can have (400), an
# active configuration deleted without ?force=true (409: the spec says force "allows to delete active config" but
# names no status for the refusal), a PATCH of a configuration the tenant does not have (404), a month that is not
# YYYY-MM (400).
BEYOND = {
    (C, "get", "400"): lambda c: c.api.get("/webhook/A/config"),
    (CC, "get", "400"): lambda c: c.api.get("/webhook/A/config/http"),
    (CC, "delete", "400"): lambda c: c.api.delete("/webhook/A/config/http"),
    (CC, "delete", "409"): lambda c: c.with_config().api.delete(HTTP),
    (CC, "patch", "404"): lambda c: c.api.patch(HTTP, NAME, format="json"),
    (ST, "get", "400"): lambda c: c.api.get(STATISTICS, {"fromYearMonth": "March"}),
}


def declared():
    """{(path, method, status)} the document declares for the paths eventhub serves."""
    document = yaml.safe_load(SPEC_FILE.read_text())
    found = set()
    for path, operations in document["paths"].items():
        if path not in SERVED:
            continue
        for method, operation in operations.items():
            if method in ("get", "put", "post", "patch", "delete"):
                found |= {(path, method, status) for status in operation["responses"]}
    return found


def test_every_declared_status_is_checked_or_said_unreachable():
    assert set(CASES) | set(UNREACHABLE) == declared()
    assert not set(CASES) & set(UNREACHABLE)


@pytest.fixture
def call(tenant, other_tenant, api, api_client_for, monkeypatch):
    return Call(api, api_client_for(tenant, "webhook.subscription_read"), api_client_for(other_tenant), monkeypatch)


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda case: " ".join(case))
def test_the_answer_conforms_to_the_emporix_document(case, call):
    template, method, status = case
    response = CASES[case](call)
    assert response.status_code == int(status), response.content
    conforms(response, method, response.wsgi_request.path)


@pytest.mark.parametrize("case", sorted(BEYOND), ids=lambda case: " ".join(case))
def test_an_answer_beyond_the_document_is_an_error_message(case, call):
    response = BEYOND[case](call)
    assert response.status_code == int(case[2]), response.content
    ERROR_MESSAGE.validate(response.json())
    assert response.json()["code"] == response.status_code


def test_the_hubs_own_schema_documents_exactly_the_statuses_it_answers(client):
    schema = client.get("/api/schema/?format=json").json()
    answered = {}
    for path, method, status in [*CASES, *BEYOND]:
        answered.setdefault((path, method), set()).add(status)
    for (path, method), statuses in answered.items():
        documented = set(schema["paths"][path][method]["responses"])
        assert documented == statuses, (path, method)

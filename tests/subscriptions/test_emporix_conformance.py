"""Every answer of the paths eventhub shares with Emporix's webhook service, checked against Emporix's own OpenAPI
document (docs/reference/emporix-webhook-service.yml) with openapi-core: each (path, method, status) the document
declares is produced here, or listed in UNREACHABLE with the reason eventhub never answers it."""

from pathlib import Path

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

SPEC_FILE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "emporix-webhook-service.yml"
SPEC = OpenAPI.from_file_path(str(SPEC_FILE))
SERVED = ("/webhook/{tenant}/event-subscriptions",)

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


def server_error(monkeypatch, module, name):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(module, name, broken)


# --- event-subscriptions -----------------------------------------------------------------------------------------

SUBSCRIPTIONS = "/webhook/acme/event-subscriptions"
ITEM = [{"eventType": "product.created", "action": "SUBSCRIBE"}]


def subscriptions_get_500(api, monkeypatch):
    from subscriptions import selectors

    server_error(monkeypatch, selectors, "event_subscriptions")
    return api.get(SUBSCRIPTIONS)


def subscriptions_patch_500(api, monkeypatch):
    from subscriptions import services

    server_error(monkeypatch, services, "apply_subscription_change")
    return api.patch(SUBSCRIPTIONS, ITEM, format="json")


CASES = {
    ("/webhook/{tenant}/event-subscriptions", "get", "200"): lambda api, reader, mp: api.get(SUBSCRIPTIONS),
    ("/webhook/{tenant}/event-subscriptions", "get", "400"): lambda api, reader, mp: api.get(SUBSCRIPTIONS, {"subscription": "MAYBE"}),
    ("/webhook/{tenant}/event-subscriptions", "get", "401"): lambda api, reader, mp: APIClient().get(SUBSCRIPTIONS),
    ("/webhook/{tenant}/event-subscriptions", "get", "403"): lambda api, reader, mp: api.get("/webhook/globex/event-subscriptions"),
    ("/webhook/{tenant}/event-subscriptions", "get", "500"): lambda api, reader, mp: subscriptions_get_500(api, mp),
    ("/webhook/{tenant}/event-subscriptions", "patch", "207"): lambda api, reader, mp: api.patch(SUBSCRIPTIONS, ITEM + [{"eventType": "no.such"}], format="json"),
    ("/webhook/{tenant}/event-subscriptions", "patch", "400"): lambda api, reader, mp: api.patch(SUBSCRIPTIONS, [{"eventType": "product.created", "metadata": {"version": 0}}], format="json"),
    ("/webhook/{tenant}/event-subscriptions", "patch", "401"): lambda api, reader, mp: APIClient().patch(SUBSCRIPTIONS, ITEM, format="json"),
    ("/webhook/{tenant}/event-subscriptions", "patch", "403"): lambda api, reader, mp: reader.patch(SUBSCRIPTIONS, ITEM, format="json"),
    ("/webhook/{tenant}/event-subscriptions", "patch", "500"): lambda api, reader, mp: subscriptions_patch_500(api, mp),
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


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda case: " ".join(case))
def test_the_answer_conforms_to_the_emporix_document(case, tenant, api, api_client_for, monkeypatch):
    template, method, status = case
    reader = api_client_for(tenant, "webhook.subscription_read")
    response = CASES[case](api, reader, monkeypatch)
    assert response.status_code == int(status), response.content
    path = response.wsgi_request.path
    conforms(response, method, path)


def test_the_hubs_own_schema_documents_exactly_the_statuses_it_answers(client):
    schema = client.get("/api/schema/?format=json").json()
    answered = {}
    for path, method, status in CASES:
        answered.setdefault((path, method), set()).add(status)
    for (path, method), statuses in answered.items():
        documented = set(schema["paths"][path][method]["responses"])
        assert documented == statuses, (path, method)

"""Isolation and scopes on every tenant operation of the API: another tenant's token is refused, a missing scope is
refused naming it, no token is a 401 with a bearer challenge. Nothing of the other tenant is revealed or changed.

The scope each operation needs is the README's (its scope table and API sections), written out below by hand: not
read from the views' `required_scopes` nor from the OpenAPI schema built from them, so a view that declares the
wrong scope fails here. The operations are found in the URL configuration, so a new one without a row fails too."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tenants.scopes import SCOPES
from tenants.services import issue_token

pytestmark = pytest.mark.django_db
PLACEHOLDER = "00000000-0000-4000-8000-000000000000"

SUBSCRIPTION_READ, SUBSCRIPTION_MANAGE = "webhook.subscription_read", "webhook.subscription_manage"
EVENTTYPE_MANAGE = "webhook.eventtype_manage"
ENDPOINT_READ, ENDPOINT_MANAGE = "webhook.endpoint_read", "webhook.endpoint_manage"
EVENT_PUBLISH, EVENT_READ = "webhook.event_publish", "webhook.event_read"
SOURCE_READ, SOURCE_MANAGE = "webhook.source_read", "webhook.source_manage"

# From the README: "| scope | grants |" and each API section. One row per operation; add the row with the operation.
README_SCOPES = {
    # "read the catalog and the tenant's event subscriptions" / "subscribe, unsubscribe, choose excluded fields"
    ("GET", "/webhook/{tenant}/event-subscriptions"): SUBSCRIPTION_READ,
    ("PATCH", "/webhook/{tenant}/event-subscriptions"): SUBSCRIPTION_MANAGE,
    # Emporix's config and statistics: the scopes its spec names ("...; Emporix's config and statistics")
    ("GET", "/webhook/{tenant}/config"): SUBSCRIPTION_READ,
    ("POST", "/webhook/{tenant}/config"): SUBSCRIPTION_MANAGE,
    ("GET", "/webhook/{tenant}/config/{code}"): SUBSCRIPTION_READ,
    ("PUT", "/webhook/{tenant}/config/{code}"): SUBSCRIPTION_MANAGE,
    ("PATCH", "/webhook/{tenant}/config/{code}"): SUBSCRIPTION_MANAGE,
    ("DELETE", "/webhook/{tenant}/config/{code}"): SUBSCRIPTION_MANAGE,
    ("GET", "/webhook/{tenant}/statistics"): SUBSCRIPTION_READ,
    # "register the tenant's own event types"; the catalog is read with subscription_read
    ("GET", "/webhook/{tenant}/event-types"): SUBSCRIPTION_READ,
    ("POST", "/webhook/{tenant}/event-types"): EVENTTYPE_MANAGE,
    ("GET", "/webhook/{tenant}/event-types/{key}"): SUBSCRIPTION_READ,
    ("PUT", "/webhook/{tenant}/event-types/{key}"): EVENTTYPE_MANAGE,
    ("DELETE", "/webhook/{tenant}/event-types/{key}"): EVENTTYPE_MANAGE,
    # "read endpoints, deliveries and attempts; preview" / "create, change, test and remove endpoints; retry and replay"
    ("GET", "/webhook/{tenant}/endpoints"): ENDPOINT_READ,
    ("POST", "/webhook/{tenant}/endpoints"): ENDPOINT_MANAGE,
    ("GET", "/webhook/{tenant}/endpoints/{endpoint_id}"): ENDPOINT_READ,
    ("PATCH", "/webhook/{tenant}/endpoints/{endpoint_id}"): ENDPOINT_MANAGE,
    ("DELETE", "/webhook/{tenant}/endpoints/{endpoint_id}"): ENDPOINT_MANAGE,
    ("POST", "/webhook/{tenant}/endpoints/{endpoint_id}/rotate-secret"): ENDPOINT_MANAGE,
    ("POST", "/webhook/{tenant}/endpoints/{endpoint_id}/preview"): ENDPOINT_READ,
    ("POST", "/webhook/{tenant}/endpoints/{endpoint_id}/test"): ENDPOINT_MANAGE,
    ("POST", "/webhook/{tenant}/endpoints/{endpoint_id}/replay"): ENDPOINT_MANAGE,
    ("POST", "/webhook/{tenant}/endpoints/{endpoint_id}/recover"): ENDPOINT_MANAGE,
    # portal links: made and revoked by those who manage endpoints, listed by those who read them
    ("GET", "/webhook/{tenant}/portal-links"): ENDPOINT_READ,
    ("POST", "/webhook/{tenant}/portal-links"): ENDPOINT_MANAGE,
    ("GET", "/webhook/{tenant}/portal-links/{link_id}"): ENDPOINT_READ,
    ("DELETE", "/webhook/{tenant}/portal-links/{link_id}"): ENDPOINT_MANAGE,
    ("GET", "/webhook/{tenant}/portal-settings"): ENDPOINT_READ,
    ("PUT", "/webhook/{tenant}/portal-settings"): ENDPOINT_MANAGE,
    ("GET", "/webhook/{tenant}/deliveries"): ENDPOINT_READ,
    ("GET", "/webhook/{tenant}/deliveries/{delivery_id}"): ENDPOINT_READ,
    ("POST", "/webhook/{tenant}/deliveries/{delivery_id}/retry"): ENDPOINT_MANAGE,
    # "publish events over HTTP" / "read stored events"
    ("POST", "/webhook/{tenant}/events"): EVENT_PUBLISH,
    ("GET", "/webhook/{tenant}/events"): EVENT_READ,
    # "read broker sources and dead letters" / "create, change and remove sources; re-drive dead letters"
    ("GET", "/webhook/{tenant}/sources"): SOURCE_READ,
    ("POST", "/webhook/{tenant}/sources"): SOURCE_MANAGE,
    ("GET", "/webhook/{tenant}/sources/{source_id}"): SOURCE_READ,
    ("PATCH", "/webhook/{tenant}/sources/{source_id}"): SOURCE_MANAGE,
    ("DELETE", "/webhook/{tenant}/sources/{source_id}"): SOURCE_MANAGE,
    ("GET", "/webhook/{tenant}/dead-letters"): SOURCE_READ,
    ("POST", "/webhook/{tenant}/dead-letters/{dead_letter_id}/redrive"): SOURCE_MANAGE,
}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _routes(patterns, prefix="/"):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)


def served_operations():
    """(METHOD, /path/{param}) of every tenant route in the URL configuration, by the handlers its view defines."""
    found = set()
    for route, view in _routes(get_resolver().url_patterns):
        if "<str:tenant>" not in route and "<tenant>" not in route:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        found.update((method.upper(), path) for method in HTTP_METHODS if view is not None and hasattr(view, method))
    return found


def operations():
    return [pytest.param(method, path, scope, id=f"{method} {path}") for (method, path), scope in sorted(README_SCOPES.items())]


def test_every_tenant_operation_served_has_a_row_in_the_readme_table_and_every_row_is_served():
    served = served_operations()
    assert sorted(served - README_SCOPES.keys()) == [], "operations without a row in README_SCOPES (add the README's scope)"
    assert sorted(README_SCOPES.keys() - served) == [], "rows for operations the URL configuration does not serve"


def test_the_openapi_schema_documents_the_readme_scope_of_every_operation():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = {}
    for path, item in schema["paths"].items():
        if "{tenant}" in path:
            for method, operation in item.items():
                scopes = [s for requirement in operation.get("security", []) for s in requirement.get("oauth2", [])]
                documented[(method.upper(), path)] = scopes
    assert documented == {key: [scope] for key, scope in README_SCOPES.items()}


def url(path, tenant):
    return re.sub(r"\{[^}]+\}", PLACEHOLDER, path.replace("{tenant}", tenant))


def call(client, method, target):
    return client.generic(method, target, "{}" if method in {"POST", "PUT", "PATCH"} else "", content_type="application/json")


@pytest.mark.parametrize("method, path, scope", operations())
def test_another_tenants_token_is_refused_and_learns_nothing(method, path, scope, tenant, other_tenant, api_client_for):
    stranger = api_client_for(other_tenant)
    response = call(stranger, method, url(path, tenant.name))
    assert response.status_code == 403, response.content
    assert response.json()["message"] == f"This token does not grant access to tenant '{tenant.name}'."


@pytest.mark.parametrize("method, path, scope", operations())
def test_every_operation_needs_the_readme_scope(method, path, scope, tenant):
    assert scope in SCOPES
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(tenant, [s for s in SCOPES if s != scope])}")
    response = call(client, method, url(path, tenant.name))
    assert response.status_code == 403, response.content
    assert scope in response.json()["message"]


@pytest.mark.parametrize("method, path, scope", operations())
def test_no_token_is_a_401_with_a_bearer_challenge(method, path, scope, tenant):
    response = call(APIClient(), method, url(path, tenant.name))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, path, scope", operations())
def test_the_readme_scope_alone_is_enough(method, path, scope, tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(tenant, [scope])}")
    response = call(client, method, url(path, tenant.name))
    # Past the permission check: whatever the placeholder body and ids give (400, 404, ...), never 401 or 403.
    assert response.status_code not in (401, 403), response.content

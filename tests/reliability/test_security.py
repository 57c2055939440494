"""Isolation and scopes on every operation the API documents (read from the OpenAPI schema, so new operations
are covered the day they are added): another tenant's token is refused, a missing scope is refused naming it,
no token is a 401 with a bearer challenge. Nothing of the other tenant is revealed or changed."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tenants.scopes import SCOPES
from tenants.services import issue_token

pytestmark = pytest.mark.django_db
PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, item in schema["paths"].items():
        if "{tenant}" not in path:
            continue
        for method, operation in item.items():
            scopes = [s for requirement in operation.get("security", []) for s in requirement.get("oauth2", [])]
            found.append(pytest.param(method.upper(), path, scopes[0] if scopes else None, id=f"{method.upper()} {path}"))
    return found


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
def test_every_operation_needs_its_scope(method, path, scope, tenant):
    assert scope in SCOPES, f"{method} {path} documents no scope"
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

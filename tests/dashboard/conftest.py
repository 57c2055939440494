import pytest
from django.test import Client

from subscriptions.endpoints.services import create_endpoint
from tenants.models import Role
from tenants.services import add_member, ensure_user


@pytest.fixture
def client_as(tenant):
    """client_as(role, tenant=acme) -> a logged-in Client of a new user with that role on the tenant."""

    def make(role, on=None):
        user, _ = ensure_user(f"{role}-{(on or tenant).name}", "pw-123456!")
        add_member(on or tenant, user, role)
        client = Client()
        client.force_login(user)
        client.user = user
        return client

    return make


@pytest.fixture
def viewer(client_as):
    return client_as(Role.VIEWER)


@pytest.fixture
def editor(client_as):
    return client_as(Role.EDITOR)


@pytest.fixture
def owner(client_as):
    return client_as(Role.OWNER)


@pytest.fixture
def endpoint(tenant):
    return create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]

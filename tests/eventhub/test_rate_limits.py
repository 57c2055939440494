"""Rate limits: a client that sends too much gets 429 with Retry-After; other clients are not affected."""

import pytest
from rest_framework.test import APIClient

from tenants.services import create_api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    def set_limits(**rates):
        settings.EVENTHUB = {**settings.EVENTHUB, "RATE_LIMITS": {"api": None, "ingest": None, "token": None, **rates}}

    return set_limits


def test_an_api_client_over_its_limit_gets_429_with_retry_after_in_the_common_shape(tenant, other_tenant, api_client_for, limits):
    limits(api="3/minute")
    client, other = api_client_for(tenant), api_client_for(other_tenant)
    codes = [client.get("/webhook/acme/event-subscriptions?eventType=product.created").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/webhook/acme/event-subscriptions?eventType=product.created")
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 60
    assert response.json()["code"] == 429 and response.json()["status"] == "Too Many Requests"
    assert other.get("/webhook/globex/event-subscriptions?eventType=product.created").status_code == 200


def test_no_limit_configured_means_no_throttling(tenant, api_client_for, limits):
    limits(api=None)
    client = api_client_for(tenant)
    assert {client.get("/webhook/acme/event-subscriptions?eventType=product.created").status_code for _ in range(20)} == {200}


def test_the_token_endpoint_is_limited_per_address(tenant, limits):
    limits(token="2/minute")
    _, client_id, secret = create_api_client(tenant, ["webhook.subscription_read"])
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}
    codes = [APIClient().post("/oauth/token", form).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    response = APIClient().post("/oauth/token", {**form, "client_secret": secret})
    assert response.status_code == 429 and response.json()["error"] == "rate_limited" and int(response["Retry-After"]) > 0


def test_a_client_cannot_pick_a_fresh_address_for_the_token_limit_with_x_forwarded_for(tenant, limits):
    """The address is the peer's (REMOTE_ADDR, which the ASGI server sets from X-Forwarded-For only for a trusted
    proxy); DRF's default would count each spelling of the header as another client."""
    limits(token="2/minute")
    _, client_id, _ = create_api_client(tenant, ["webhook.subscription_read"])
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}
    codes = [APIClient().post("/oauth/token", form, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code for n in range(3)]
    assert codes == [401, 401, 429]


def test_publishing_events_has_its_own_limit_and_reading_does_not_use_it_up(tenant, api_client_for, limits):
    limits(ingest="2/minute", api="100/minute")
    client = api_client_for(tenant)
    codes = [client.post("/webhook/acme/events", {"type": "product.created", "data": {}}, format="json").status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert client.get("/webhook/acme/events").status_code == 200

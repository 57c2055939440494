"""GET /webhook/{tenant}/dashboard-access: Emporix's magic login link, answered with a consumer portal link that
opens the tenant's portal (and only that tenant's), listed and revocable like any portal link."""

import pytest

from subscriptions.models import PortalLink, PortalRole

pytestmark = pytest.mark.django_db

URL = "/webhook/acme/dashboard-access"


def test_the_answer_is_a_portal_link_that_opens_the_tenants_portal(api, client):
    response = api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "token"} and body["token"].startswith("ehp_")
    assert body["url"] == f"http://testserver/portal/{body['token']}/"
    assert client.get(body["url"]).status_code == 200
    link = PortalLink.objects.get()
    assert (link.role, link.all_endpoints, link.tenant.name) == (PortalRole.EDITOR, True, "acme")


def test_each_call_makes_a_new_link_and_a_revoked_one_opens_nothing(api, client):
    first, second = api.get(URL).json(), api.get(URL).json()
    assert first["token"] != second["token"] and PortalLink.objects.count() == 2
    for link in api.get("/webhook/acme/portal-links").json():
        assert api.delete(f"/webhook/acme/portal-links/{link['id']}").status_code == 204
    assert client.get(first["url"]).status_code != 200


def test_it_needs_the_manage_scope_and_the_tenants_own_token(tenant, other_tenant, api_client_for):
    assert api_client_for(tenant, "webhook.subscription_read").get(URL).status_code == 403
    assert api_client_for(other_tenant).get(URL).status_code == 403
    assert not PortalLink.objects.exists()

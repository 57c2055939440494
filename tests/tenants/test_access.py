"""Who may call the API: bearer tokens bound to one tenant, scopes per operation, isolation between tenants."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from tenants.models import Tenant
from tenants.services import create_api_client

pytestmark = pytest.mark.django_db

URL = "/webhook/acme/event-subscriptions"


def test_no_token_is_401_with_a_bearer_challenge(tenant):
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert (body["code"], body["status"]) == (401, "Unauthorized")
    # Emporix's gateway form beside the ErrorMessage fields, so clients reading either understand it.
    assert body["fault"]["detail"]["errorcode"] == "oauth.v2.InvalidAccessToken" and body["fault"]["faultstring"]


def test_unknown_or_expired_token_is_401_saying_the_token_is_the_problem(tenant, api_client_for):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = client.get(URL)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    # Credentials were given: the answer must not say they were not.
    assert response.json()["message"] == response.json()["fault"]["faultstring"] == "The access token is invalid, expired or revoked."

    client = api_client_for(tenant, "webhook.subscription_read")
    AccessToken.objects.update(expires="2000-01-01T00:00:00Z")
    response = client.get(URL)
    assert response.status_code == 401 and response.json()["message"] == "The access token is invalid, expired or revoked."


def test_missing_scope_is_403_naming_the_scope_needed(tenant, api_client_for):
    reader = api_client_for(tenant, "webhook.subscription_read")
    assert reader.get(URL).status_code == 200
    response = reader.patch(URL, [{"eventType": "product.created", "action": "SUBSCRIBE"}], format="json")
    assert response.status_code == 403
    assert "webhook.subscription_manage" in response.json()["message"]

    writer = api_client_for(tenant, "webhook.subscription_manage")
    response = writer.get(URL)
    assert response.status_code == 403
    assert "webhook.subscription_read" in response.json()["message"]


def test_a_token_of_one_tenant_cannot_read_or_change_another(tenant, other_tenant, api_client_for):
    acme = api_client_for(tenant)
    globex = api_client_for(other_tenant)
    assert globex.patch("/webhook/globex/event-subscriptions", [{"eventType": "product.created", "action": "SUBSCRIBE"}], format="json").status_code == 207

    for url in ("/webhook/globex/event-subscriptions", "/webhook/globex/event-types"):
        read = acme.get(url)
        assert read.status_code == 403
        assert "product.created" not in read.content.decode()
    write = acme.patch("/webhook/globex/event-subscriptions", [{"eventType": "product.created", "action": "UNSUBSCRIBE", "metadata": {"version": 1}}], format="json")
    assert write.status_code == 403
    item = next(i for i in globex.get("/webhook/globex/event-subscriptions").json() if i["event"]["type"] == "product.created")
    assert item["subscription"] == "SUBSCRIBED"


def test_an_existing_and_a_missing_tenant_look_the_same_to_a_stranger(tenant, other_tenant, api_client_for):
    acme = api_client_for(tenant)
    existing = acme.get("/webhook/globex/event-subscriptions")
    missing = acme.get("/webhook/nosuchtenant/event-subscriptions")
    assert existing.status_code == missing.status_code == 403
    assert existing.json()["message"].replace("globex", "X") == missing.json()["message"].replace("nosuchtenant", "X")


@pytest.mark.parametrize("name", ["Acme", "a", "1acme", "acme_corp", "x" * 64])
def test_invalid_tenant_name_in_the_url_is_400_with_a_clear_message(api, name):
    response = api.get(f"/webhook/{name}/event-subscriptions")
    assert response.status_code == 400
    assert "tenant name" in response.json()["message"]


class TestClientCredentials:
    def test_client_obtains_a_token_with_allowed_scopes_and_uses_it(self, tenant):
        _, client_id, secret = create_api_client(tenant, ["webhook.subscription_read", "webhook.subscription_manage"])
        response = APIClient().post(
            "/oauth/token", {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "webhook.subscription_read"}
        )
        assert response.status_code == 200, response.content
        token = response.json()
        assert token["token_type"] == "Bearer" and token["scope"] == "webhook.subscription_read"
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
        assert client.get(URL).status_code == 200
        assert client.patch(URL, [], format="json").status_code == 403

    def test_a_scope_the_client_was_not_granted_is_refused(self, tenant):
        _, client_id, secret = create_api_client(tenant, ["webhook.subscription_read"])
        response = APIClient().post(
            "/oauth/token", {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "webhook.subscription_manage"}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"

    def test_wrong_secret_is_refused(self, tenant):
        _, client_id, _ = create_api_client(tenant, ["webhook.subscription_read"])
        response = APIClient().post("/oauth/token", {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"})
        assert response.status_code == 401


class TestCommands:
    def test_create_tenant_then_issue_token_prints_only_the_token(self, capsys):
        call_command("create_tenant", "initech")
        assert Tenant.objects.filter(name="initech").exists()
        capsys.readouterr()
        call_command("issue_token", "initech", "--scope", "webhook.subscription_read", "--scope", "webhook.subscription_manage")
        token = capsys.readouterr().out.strip()
        assert "\n" not in token and len(token) >= 32
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/webhook/initech/event-subscriptions").status_code == 200

    def test_create_tenant_with_languages_keeps_the_default_among_them(self):
        call_command("create_tenant", "initech", "--language", "de", "--languages", "en, FR")
        assert Tenant.objects.get(name="initech").languages == ["de", "en", "fr"]
        with pytest.raises(CommandError, match="not a language code"):
            call_command("create_tenant", "hooli", "--languages", "english")

    def test_create_tenant_refuses_a_bad_name(self):
        with pytest.raises(CommandError, match="not a valid tenant name"):
            call_command("create_tenant", "Not_Valid")
        assert not Tenant.objects.exists()

    def test_issue_token_refuses_unknown_scope_and_unknown_tenant(self, tenant):
        with pytest.raises(CommandError, match="unknown scope"):
            call_command("issue_token", "acme", "--scope", "webhook.everything")
        with pytest.raises(CommandError, match="no tenant named"):
            call_command("issue_token", "nobody", "--scope", "webhook.subscription_read")
        assert not AccessToken.objects.exists()


def test_tokens_are_stored_only_as_checksums(tenant, api_client_for):
    from oauth2_provider.models import AccessToken

    from tenants.services import issue_token

    token = issue_token(tenant, ["webhook.subscription_read"])
    stored = AccessToken.objects.get()
    assert stored.token == "" and token not in str(stored.__dict__)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/webhook/acme/event-subscriptions").status_code == 200


def test_a_token_in_the_query_string_is_not_accepted(tenant):
    from tenants.services import issue_token

    token = issue_token(tenant, ["webhook.subscription_read"])
    response = APIClient().get(f"/webhook/acme/event-subscriptions?access_token={token}")
    assert response.status_code == 401

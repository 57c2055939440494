"""Bearer-token authentication for the API: a valid OAuth2 token becomes a principal of exactly one tenant."""

from dataclasses import dataclass

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.exceptions import AuthenticationFailed

from tenants.models import ApiClient, Tenant


@dataclass(frozen=True)
class TokenPrincipal:
    """Who is calling: one tenant's API client, with the scopes its token carries."""

    tenant: Tenant
    scopes: frozenset
    client_id: str

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __str__(self):
        return f"client {self.client_id} of tenant {self.tenant.name}"


class TenantTokenAuthentication(OAuth2Authentication):
    www_authenticate_realm = "eventhub"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        _, token = result
        try:
            client = ApiClient.objects.select_related("tenant").get(application_id=token.application_id)
        except ApiClient.DoesNotExist:
            raise AuthenticationFailed("This token belongs to no tenant.")
        return TokenPrincipal(client.tenant, frozenset(token.scope.split()), token.application.client_id), token

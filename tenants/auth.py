"""Bearer tokens: a valid OAuth2 token becomes a principal of exactly one tenant, for the API and the live monitor.

django-oauth-toolkit judges the token (its checksum lookup, expiry, application, introspection when configured);
`access_token_principal` then maps its client to the tenant. HTTP gets there through DRF (TenantTokenAuthentication),
the websocket, which has no HTTP request, through `token_principal`: both end in the same function.
"""

from dataclasses import dataclass

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthRequest
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


def access_token_principal(access_token) -> TokenPrincipal | None:
    """The principal of a token django-oauth-toolkit accepted; None when its client belongs to no tenant."""
    client = ApiClient.objects.select_related("tenant").filter(application_id=access_token.application_id).first()
    if client is None:
        return None
    return TokenPrincipal(client.tenant, frozenset(access_token.scope.split()), access_token.application.client_id)


def token_principal(token: str, uri: str = "") -> TokenPrincipal | None:
    """Who a raw bearer token names, judged by django-oauth-toolkit's validator as on the HTTP path; None when the
    token is unknown, expired, revoked, of an unusable application, or of no tenant. `uri`: the resource it is used
    for (a resource-restricted token is refused elsewhere). Touches the database."""
    request = OAuthRequest(uri)
    if not oauth2_settings.OAUTH2_VALIDATOR_CLASS().validate_bearer_token(token, [], request):
        return None
    return access_token_principal(request.access_token)


class TenantTokenAuthentication(OAuth2Authentication):
    www_authenticate_realm = "eventhub"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        _, token = result
        principal = access_token_principal(token)
        if principal is None:
            raise AuthenticationFailed("This token belongs to no tenant.")
        return principal, token

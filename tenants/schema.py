"""OpenAPI description of the API's authentication: OAuth2 client credentials, tokens sent as a bearer header."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from tenants.scopes import SCOPES


class TenantTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.auth.TenantTokenAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": "A bearer token of one tenant. Get one at /oauth/token (client credentials) or with `manage.py issue_token`.",
            "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": dict(SCOPES)}},
        }

    def get_security_requirement(self, auto_schema):
        view = auto_schema.view
        needed = getattr(view, "required_scopes", {}).get(auto_schema.method.upper())
        return {self.name: [needed] if needed else []}

"""OAuth2 scopes per client: a tenant's client may only obtain the scopes its ApiClient allows."""

from oauth2_provider.scopes import BaseScopes

from tenants.scopes import SCOPES


class TenantScopes(BaseScopes):
    def get_all_scopes(self):
        return SCOPES

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        client = getattr(application, "api_client", None) if application is not None else None
        return sorted(client.scope_set & SCOPES.keys()) if client else []

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        # A client-credentials request without `scope` gets everything its client is allowed.
        return self.get_available_scopes(application, request)

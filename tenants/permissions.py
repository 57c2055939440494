"""API permissions: the tenant in the URL must be the token's tenant, and the token must carry the operation's scope."""

from rest_framework import permissions
from rest_framework.exceptions import MethodNotAllowed, PermissionDenied, ValidationError

from tenants.models import TENANT_NAME_RE, TENANT_NAME_RULE


class HasTenantScope(permissions.BasePermission):
    """Views declare `required_scopes = {"GET": "webhook.x_read", ...}`; a method with no scope is a 405."""

    def has_permission(self, request, view):
        principal = request.user
        if principal is None or not getattr(principal, "is_authenticated", False):
            return False  # DRF answers 401 with WWW-Authenticate
        tenant_name = view.kwargs.get("tenant")
        if tenant_name is not None:
            if not TENANT_NAME_RE.match(tenant_name):
                raise ValidationError(f"'{tenant_name}' is not a valid tenant name: {TENANT_NAME_RULE}.")
            if tenant_name != principal.tenant.name:
                # Same answer whether or not the tenant exists: nothing about it is revealed.
                raise PermissionDenied(f"This token does not grant access to tenant '{tenant_name}'.")
        needed = getattr(view, "required_scopes", {}).get(request.method)
        if needed is None:
            if request.method == "OPTIONS":
                return True
            raise MethodNotAllowed(request.method)
        if needed not in principal.scopes:
            raise PermissionDenied(f"This operation needs the scope '{needed}'.")
        return True

"""The dashboard's door: every tenant page goes through tenant_view, which asks tenants.access for the role it needs."""

from functools import wraps

from django.contrib.auth.decorators import login_required

from tenants.access import require_membership
from tenants.models import Role

SAFE_METHODS = ("GET", "HEAD")


def tenant_view(see=Role.VIEWER, change=Role.EDITOR):
    """Reading needs `see`, any other method `change`. Non-members get 404, too-low roles 403 (tenants.access)."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, tenant, *args, **kwargs):
            role = see if request.method in SAFE_METHODS else change
            request.membership = require_membership(request.user, tenant, role)
            request.tenant = request.membership.tenant
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def can(request, role):
    return request.membership.allows(role)


# Who may change endpoints (edit, test, replay), and so see their header values: often a receiver's credentials.
MANAGES_ENDPOINTS = Role.EDITOR


def sees_header_values(request):
    return can(request, MANAGES_ENDPOINTS)

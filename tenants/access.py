"""Who may see and change a tenant in the browser: a logged-in member, with a role at least as high as the action needs.

Pages, form posts and the live monitor's websocket all ask here, so the rule lives in one place. A user who is not a
member of the tenant gets a 404 (the tenant's existence is not revealed); a member whose role is too low gets a 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from tenants.models import Membership, Role


def membership(user, tenant_name):
    """The user's Membership of the tenant named tenant_name, or None."""
    if user is None or not getattr(user, "is_authenticated", False) or not isinstance(tenant_name, str):
        return None
    return Membership.objects.select_related("tenant").filter(user=user, tenant__name=tenant_name).first()


def require_membership(user, tenant_name, role=Role.VIEWER):
    """The Membership, or Http404 for a non-member and PermissionDenied for a role below `role`."""
    found = membership(user, tenant_name)
    if found is None:
        raise Http404("No such tenant.")
    if not found.allows(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role on tenant '{tenant_name}'.")
    return found


def tenants_of(user):
    """[Membership] of the user, by tenant name (for the tenant switcher)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return list(Membership.objects.select_related("tenant").filter(user=user).order_by("tenant__name"))

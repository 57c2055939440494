"""Template context for every dashboard page (and the live viewer, which extends the same base): tenant, switcher, nav."""

import re

from tenants.access import tenants_of
from tenants.models import Role

TENANT_PATH = re.compile(r"^/t/(?P<tenant>[^/]+)/(?P<rest>.*)$")

NAV = (
    ("Overview", "", "overview", Role.VIEWER),
    ("Catalog", "catalog/", "catalog", Role.VIEWER),
    ("Endpoints", "endpoints/", "endpoints", Role.VIEWER),
    ("Events", "events/", "events", Role.VIEWER),
    ("Deliveries", "deliveries/", "deliveries", Role.VIEWER),
    ("Live", "live/", "live", Role.VIEWER),
    ("Sources", "sources/", "sources", Role.VIEWER),
    ("Dead letters", "dead-letters/", "dead-letters", Role.VIEWER),
    ("Portal links", "portal-links/", "portal-links", Role.OWNER),
    ("Members", "members/", "members", Role.OWNER),
)


def dashboard(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = tenants_of(user)
    found = TENANT_PATH.match(request.path)
    current = None
    if found:
        current = next((m for m in memberships if m.tenant.name == found["tenant"]), None)
    context = {"memberships": memberships, "current_membership": current}
    if current is not None:
        base = f"/t/{current.tenant.name}/"
        rest = found["rest"]
        context["tenant_base"] = base
        context["nav_items"] = [
            {"label": label, "href": base + href, "icon": icon,
             "active": rest.startswith(href) if href else rest == ""}
            for label, href, icon, role in NAV
            if current.allows(role)
        ]
        context["can_edit"] = current.allows(Role.EDITOR)
        context["is_owner"] = current.allows(Role.OWNER)
    return context

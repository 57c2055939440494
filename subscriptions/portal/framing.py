"""Which sites may show a tenant's portal in an iframe: the origins its owner lists, sent as CSP frame-ancestors on
the portal's pages only (every other page of the hub keeps `frame-ancestors 'none'` and X-Frame-Options: DENY)."""

import re

from django.utils import timezone

from subscriptions.models import PortalSettings
from subscriptions.portal.links import PortalInvalid

MAX_FRAME_ORIGINS = 20
MAX_ORIGIN_LENGTH = 200
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# scheme://host[:port], nothing else: no path, query, user, wildcard or space that could widen the policy or add a
# directive to it. Host names in ASCII (an IDN as its xn-- form); IPv6 in brackets.
ORIGIN_RE = re.compile(rf"^https?://(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?$")
ORIGIN_RULE = "Must be an origin like https://shop.example.com (http or https, a host, an optional port; no path)."


def frame_origins(tenant_id):
    """The origins that may frame the tenant's portal pages; [] when none (the default: no framing at all)."""
    return PortalSettings.objects.filter(tenant_id=tenant_id).values_list("frame_origins", flat=True).first() or []


def frame_ancestors(tenant_id):
    """The frame-ancestors sources for the tenant's portal pages."""
    return frame_origins(tenant_id) or ["'none'"]


def set_frame_origins(tenant, origins):
    """Replace the tenant's list; returns it as stored (lower case, no trailing slash, no repeats). PortalInvalid
    names each item that is not an origin."""
    if not isinstance(origins, (list, tuple)) or len(origins) > MAX_FRAME_ORIGINS:
        raise PortalInvalid([{"field": "frameOrigins", "message": f"Must be a list of at most {MAX_FRAME_ORIGINS} origins."}])
    cleaned, problems = [], []
    for index, origin in enumerate(origins):
        value = origin.strip().lower().removesuffix("/") if isinstance(origin, str) else ""
        found = ORIGIN_RE.match(value) if len(value) <= MAX_ORIGIN_LENGTH else None
        if found is None or (found["port"] is not None and not 0 < int(found["port"]) < 65536):
            problems.append({"field": f"frameOrigins[{index}]", "message": ORIGIN_RULE})
        elif value not in cleaned:
            cleaned.append(value)
    if problems:
        raise PortalInvalid(problems)
    PortalSettings.objects.update_or_create(tenant=tenant, defaults={"frame_origins": cleaned, "modified_at": timezone.now()})
    return cleaned

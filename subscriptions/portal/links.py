"""Consumer portal links: make one (its URL given once), revoke it, open it from its token, and what it shows.

A link's token is 32 random bytes (`ehp_` + URL-safe base64) in the URL's path, and the hub keeps only its SHA-256.
Opening a link looks the digest up, so a token altered by one character finds no row; a revoked or expired link is
refused by its row; revoking is one UPDATE, effective on the next request. Django's signing would make a link
checkable without the database, but revocation needs a row anyway, and a random token cannot be forged however the
signing key is kept (nor made valid again by a key rotation).

Used by the API (api/portal_links.py), the dashboard and the portal's pages; other code makes links with
create_portal_link().
"""

import hashlib
import re
import secrets
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from subscriptions.endpoints.services import rotate_secret
from subscriptions.models import Delivery, Endpoint, EndpointSecret, PortalLink, PortalRole

TOKEN_PREFIX = "ehp_"
TOKEN_RE = re.compile(r"^ehp_[A-Za-z0-9_-]{43}$")
MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 7 * 24 * 3600
DEFAULT_EXPIRES_IN = 24 * 3600
MAX_ENDPOINTS = 100
# A secret rotated through a link is shown on the next page of that endpoint, if it comes within this time.
REVEAL_WINDOW = timedelta(minutes=10)

REFUSALS = {
    "invalid": "This portal link is not valid. It may have been changed or copied incompletely: ask for a new link.",
    "expired": "This portal link has expired. Ask for a new link.",
    "revoked": "This portal link was revoked. Ask for a new link.",
}


class PortalInvalid(ValueError):
    """Input a portal rule refuses; `details` is [{field, message}], as the API reports them."""

    def __init__(self, details):
        self.details = details
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))


class PortalRefused(Exception):
    """A link that does not open: `reason` is invalid, expired or revoked; `tenant` is known unless invalid."""

    def __init__(self, reason, tenant=None):
        self.reason, self.tenant = reason, tenant
        super().__init__(REFUSALS[reason])


def portal_path(token):
    return f"/portal/{token}/"


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_portal_link(tenant, *, endpoints, role, expires_in=DEFAULT_EXPIRES_IN, created_by=""):
    """(PortalLink, path): a new link of `tenant` showing `endpoints` (ids or Endpoints of the tenant; None: all its
    endpoints, also later ones) with `role` (viewer or editor), valid for `expires_in` seconds (60 s to 7 days).
    The path (/portal/<token>/) is the only time the token leaves the hub: make it absolute with
    request.build_absolute_uri(path). Raises PortalInvalid naming each bad field."""
    problems = []
    if role not in PortalRole.values:
        problems.append({"field": "role", "message": f"Must be one of {', '.join(PortalRole.values)}."})
    if type(expires_in) is not int or not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
        problems.append({"field": "expiresIn", "message": f"Must be a whole number of seconds from {MIN_EXPIRES_IN} to {MAX_EXPIRES_IN} (7 days)."})
    chosen = _endpoints_of(tenant, endpoints, problems)
    if problems:
        raise PortalInvalid(problems)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        link = PortalLink.objects.create(
            tenant=tenant, token_digest=_digest(token), role=role, all_endpoints=chosen is None,
            created_by=str(created_by)[:150], created_at=now, expires_at=now + timedelta(seconds=expires_in),
        )
        if chosen:
            link.endpoints.set(chosen)
    return link, portal_path(token)


def _endpoints_of(tenant, endpoints, problems):
    """The tenant's Endpoints named by `endpoints`, or None for all; each bad item is added to `problems`."""
    if endpoints is None:
        return None
    if not isinstance(endpoints, (list, tuple)) or not endpoints or len(endpoints) > MAX_ENDPOINTS:
        problems.append({"field": "endpoints", "message": f"Must be a list of 1 to {MAX_ENDPOINTS} endpoint ids, or null for every endpoint."})
        return []
    ids = {}
    for index, value in enumerate(endpoints):
        value = value.pk if isinstance(value, Endpoint) else value
        try:
            ids[index] = value if isinstance(value, uuid.UUID) else uuid.UUID(value) if isinstance(value, str) else None
        except ValueError:
            ids[index] = None
        if ids[index] is None:
            problems.append({"field": f"endpoints[{index}]", "message": "Is not an endpoint id."})
    found = {e.pk: e for e in Endpoint.objects.filter(tenant=tenant, pk__in=[i for i in ids.values() if i])}
    for index, endpoint_id in ids.items():
        if endpoint_id and endpoint_id not in found:  # another tenant's id reads like an unknown one
            problems.append({"field": f"endpoints[{index}]", "message": f"No endpoint '{endpoint_id}' in this tenant."})
    return list(found.values())


def open_portal_link(token, now=None):
    """The active PortalLink (with its tenant) whose token this is; PortalRefused otherwise."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise PortalRefused("invalid")
    link = PortalLink.objects.select_related("tenant").filter(token_digest=_digest(token)).first()
    if link is None:
        raise PortalRefused("invalid")
    state = link.state(now or timezone.now())
    if state != "active":
        raise PortalRefused(state, tenant=link.tenant)
    return link


def portal_links(tenant):
    """The tenant's links, newest first, with their endpoints."""
    return PortalLink.objects.filter(tenant=tenant).prefetch_related("endpoints")


def find_portal_link(tenant, link_id):
    try:
        return portal_links(tenant).filter(pk=uuid.UUID(str(link_id))).first()
    except ValueError:
        return None


def revoke_portal_link(tenant, link_id):
    """Refuse the link from now on (revoking twice keeps the first time). The PortalLink, or None when the tenant has
    no link of that id."""
    link = find_portal_link(tenant, link_id)
    if link is not None:
        PortalLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now(), revealing=None)
        link.refresh_from_db()
    return link


# --- what an open link shows ---------------------------------------------------------------------


def link_endpoints(link):
    endpoints = Endpoint.objects.filter(tenant_id=link.tenant_id)
    return endpoints if link.all_endpoints else endpoints.filter(portal_links=link)


def link_endpoint(link, endpoint_id):
    """The endpoint if the link shows it, else None (another tenant's, another of this tenant's, or no endpoint)."""
    try:
        return link_endpoints(link).filter(pk=uuid.UUID(str(endpoint_id))).first()
    except ValueError:
        return None


def link_deliveries(link):
    """Deliveries to the link's endpoints (those of deleted endpoints are no longer anyone's to see here)."""
    return Delivery.objects.filter(tenant_id=link.tenant_id, endpoint__in=link_endpoints(link))


def link_delivery(link, delivery_id):
    if not isinstance(delivery_id, int):
        return None
    return link_deliveries(link).select_related("endpoint", "event").filter(pk=delivery_id).first()


@transaction.atomic
def rotate_secret_through_link(link, endpoint):
    """Rotate the endpoint's secret (endpoints.services' rule: the previous one signs on for 24 h) and keep the new
    one for the link to show once (take_revealed_secret)."""
    rotate_secret(endpoint)
    newest = EndpointSecret.objects.filter(endpoint=endpoint).order_by("-created_at", "-id").first()
    PortalLink.objects.filter(pk=link.pk).update(revealing=newest)


def take_revealed_secret(link, endpoint, now=None):
    """The secret rotated through this link for this endpoint, once and within REVEAL_WINDOW; else None."""
    if link.revealing_id is None:
        return None
    secret = EndpointSecret.objects.filter(pk=link.revealing_id, endpoint=endpoint).first()
    if secret is None:
        return None
    taken = PortalLink.objects.filter(pk=link.pk, revealing_id=secret.pk).update(revealing=None)
    if not taken or secret.created_at < (now or timezone.now()) - REVEAL_WINDOW:
        return None
    return secret.secret

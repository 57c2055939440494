"""The portal's door: every page opens through an active link's token, and says to the browser who may frame it.

No account, session or cookie is involved: the portal may be framed on another site, where the browser sends the hub
no cookies, so the token in the path is the only credential. It also stands in for a CSRF token (a forger who knows
it holds the link anyway), hence csrf_exempt; and the portal never asks Django for a CSRF token, so it sets no cookie.
A dashboard session in the same browser is ignored: nothing here reads request.user.
"""

from functools import wraps

from django.http import HttpResponseNotAllowed
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt

from subscriptions.portal.framing import frame_ancestors
from subscriptions.portal import links
from subscriptions.portal.links import PortalRefused, open_portal_link, portal_path

REFUSED_STATUS = {"invalid": 404, "expired": 410, "revoked": 410}
LOOK_ONLY = "This link lets you look, not change: retrying, test events and secret rotation need an editor link."


# A path's id -> the link's lookup that finds what it names, and the words when the link does not show it.
SHOWN = {"endpoint_id": (links.link_endpoint, "This endpoint"), "delivery_id": (links.link_delivery, "This delivery")}


def portal_page(*, changes=False):
    """A portal view, called as view(request, link, ...) with an endpoint or delivery of the link in place of the
    path's endpoint_id or delivery_id. `changes`: a POST that needs an editor link; otherwise a GET page. A link that
    does not open (altered, expired, revoked) gets a page saying so; an id the link does not show, a 404 page."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, token, *args, **kwargs):
            allowed = ["POST"] if changes else ["GET", "HEAD"]
            if request.method not in allowed:
                return HttpResponseNotAllowed(allowed)
            try:
                link = open_portal_link(token)
            except PortalRefused as refusal:
                return refused_page(request, refusal)
            request.portal_base = portal_path(token)
            hidden = _resolve(link, kwargs)
            if changes and not link.allows_changes:
                response = render(request, "portal/refused.html", {"message": LOOK_ONLY, "link": link}, status=403)
            elif hidden:
                response = not_found(request, link, hidden)
            else:
                response = view(request, link, *args, **kwargs)
            return framed(response, link.tenant_id)

        return wrapper

    return decorate


def _resolve(link, kwargs):
    """Put the link's endpoint or delivery in place of the path's id; the words for a 404 when the link hides it."""
    for name, (find, what) in SHOWN.items():
        if name in kwargs:
            found = find(link, kwargs.pop(name))
            if found is None:
                return what
            kwargs[name.removesuffix("_id")] = found
    return None


def refused_page(request, refusal):
    response = render(request, "portal/refused.html", {"message": str(refusal), "reason": refusal.reason}, status=REFUSED_STATUS[refusal.reason])
    return framed(response, refusal.tenant.pk if refusal.tenant else None)


def not_found(request, link, what):
    return render(request, "portal/refused.html", {"message": f"{what} is not shown by this link.", "link": link}, status=404)


def framed(response, tenant_id):
    """Only the origins the tenant's owner listed may frame a portal page (none when none are listed); the page is
    never stored by a cache, and sends no Referer (its URL holds the token)."""
    response.xframe_options_exempt = True  # X-Frame-Options cannot name origins; frame-ancestors decides here
    response._csp_replace = {"frame-ancestors": frame_ancestors(tenant_id) if tenant_id else ["'none'"]}
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response

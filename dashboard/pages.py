"""Small helpers the dashboard views share: pagination, safe redirects back, localized catalog text."""

from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

PER_PAGE = 25


def paginate(request, items, per_page=PER_PAGE):
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def redirect_back(request, fallback):
    """To the page the form came from (same host only), else to fallback."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


def localized(strings, language="en"):
    if not isinstance(strings, dict):
        return strings or ""
    return strings.get(language) or strings.get("en") or next(iter(strings.values()), "")

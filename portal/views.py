"""The portal's pages: the link's endpoints with their health, an endpoint's deliveries, a delivery with its attempts;
for editor links, retry, test send and secret rotation. The actions are the dashboard's and the API's own
(delivery/actions.py, endpoints/services.py through subscriptions/portal/links.py): no rule is repeated here."""

from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from dashboard.delivery_views import refresh_seconds
from dashboard.selectors import STATUS_CHOICES, STATUS_FILTERS, endpoint_health
from portal.access import portal_page
from subscriptions.core.matching import patterns_match
from subscriptions.delivery.actions import NotRetryable, UnknownEventType, masked_headers, masked_request_headers, retry_delivery, send_test_event
from subscriptions.portal import links
from subscriptions.selectors import delivery_search, visible_event_types

PER_PAGE = 25
MAX_SEARCH = 200
DONE = {  # what a redirect after a change says on the page it lands on (fixed texts: nothing from the query is shown)
    "retried": "The delivery is due again: it is sent shortly, with the same webhook-id.",
    "test": "Test event queued: this page shows its attempt as soon as it is made.",
    "rotated": "New signing secret created. The previous one keeps signing for 24 hours.",
}


def page_of(request, items):
    return Paginator(items, PER_PAGE).get_page(request.GET.get("page"))


def base_context(request, link, **more):
    return {"link": link, "tenant": link.tenant, "portal_base": request.portal_base, "can_change": link.allows_changes,
            "done": DONE.get(request.GET.get("done", "")), **more}


@portal_page()
def home(request, link):
    page = page_of(request, endpoint_health(links.link_endpoints(link).order_by("created_at")))  # two queries in all
    return render(request, "portal/home.html", base_context(request, link, page=page))


def test_types(endpoint):
    """The catalog types the endpoint's `events` select: what a test send may choose from."""
    return [key for key in visible_event_types(endpoint.tenant).values_list("key", flat=True) if patterns_match(endpoint.events, key)]


def render_endpoint(request, link, endpoint, error=None, status=200):
    deliveries = links.link_deliveries(link).filter(endpoint=endpoint)
    query, state = request.GET.get("q", "").strip()[:MAX_SEARCH], request.GET.get("status", "")
    if query:
        deliveries = deliveries.filter(delivery_search(query))
    if state in STATUS_FILTERS:
        deliveries = deliveries.filter(STATUS_FILTERS[state])
    secret = links.take_revealed_secret(link, endpoint) if link.allows_changes else None
    return render(request, "portal/endpoint.html", base_context(
        request, link, endpoint=endpoint, health=endpoint_health(links.link_endpoints(link).filter(pk=endpoint.pk))[0],
        page=page_of(request, deliveries.order_by("-created_at", "-id")), query=query, status_filter=state, error=error,
        status_choices=STATUS_CHOICES,
        headers=endpoint.headers if link.allows_changes else masked_headers(endpoint.headers), secret=secret,
        test_types=test_types(endpoint) if link.allows_changes else [],
    ), status=status)


@portal_page()
def endpoint_page(request, link, endpoint):
    return render_endpoint(request, link, endpoint)


@portal_page(changes=True)
def endpoint_test(request, link, endpoint):
    event_type = request.POST.get("event_type", "")
    if event_type not in test_types(endpoint):
        return render_endpoint(request, link, endpoint, error="Choose one of the event types this endpoint receives.", status=400)
    try:
        delivery = send_test_event(endpoint, event_type)
    except UnknownEventType as exc:  # removed from the catalog meanwhile
        return render_endpoint(request, link, endpoint, error=str(exc), status=400)
    return redirect(f"{request.portal_base}deliveries/{delivery.pk}/?done=test")


@portal_page(changes=True)
def endpoint_rotate(request, link, endpoint):
    links.rotate_secret_through_link(link, endpoint)
    return redirect(f"{request.portal_base}endpoints/{endpoint.pk}/?done=rotated")


def render_delivery(request, link, delivery, error=None, status=200):
    attempts = list(delivery.attempts.all())
    for attempt in attempts:  # the endpoint's own header values (often credentials) are for editor links
        attempt.shown_request_headers = attempt.request_headers if link.allows_changes else masked_request_headers(attempt.request_headers)
    return render(request, "portal/delivery.html", base_context(
        request, link, delivery=delivery, attempts=attempts, error=error, refresh_seconds=refresh_seconds(delivery),
    ), status=status)


@portal_page()
def delivery_page(request, link, delivery):
    return render_delivery(request, link, delivery)


@portal_page(changes=True)
def delivery_retry(request, link, delivery):
    try:
        retry_delivery(delivery)
    except NotRetryable as exc:
        return render_delivery(request, link, delivery, error=str(exc), status=409)
    return redirect(f"{request.portal_base}deliveries/{delivery.pk}/?done=retried")

"""The delivery log: filter, page, open one with its request and attempts, retry it."""

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import sees_header_values, tenant_view
from dashboard.forms import DeliveryFilterForm
from dashboard.pages import paginate
from dashboard.selectors import STATUS_FILTERS
from subscriptions.delivery.actions import NotRetryable, masked_request_headers, retry_delivery
from subscriptions.models import Delivery, DeliveryStatus, Endpoint
from subscriptions.selectors import deliveries_log, delivery_search

PER_PAGE = 50


def filtered_deliveries(tenant, form):
    """The delivery log as the form filters it: the API's selector for what both have (the same meaning of every
    filter), then the dashboard's own search and its finer states (failing, retrying, queued)."""
    data = form.cleaned_data if form.is_valid() else {}
    deliveries = deliveries_log(
        tenant, endpoint_id=data.get("endpoint") or None, event_type=data.get("type") or None,
        since=data.get("since"), until=data.get("until"), with_attempts=False,
    )
    if data.get("q"):
        deliveries = deliveries.filter(delivery_search(data["q"]))
    if data.get("status"):
        deliveries = deliveries.filter(STATUS_FILTERS[data["status"]])
    return deliveries


@tenant_view()
def delivery_list(request):
    endpoints = Endpoint.objects.filter(tenant=request.tenant).order_by("url")
    form = DeliveryFilterForm(request.GET or None, endpoints=endpoints)
    deliveries = filtered_deliveries(request.tenant, form) if request.GET else deliveries_log(request.tenant, with_attempts=False)
    filtering = form.is_bound and form.is_valid() and any(form.cleaned_data.values())
    return render(request, "dashboard/deliveries.html", {"form": form, "page": paginate(request, deliveries, PER_PAGE), "filtering": filtering})


@tenant_view()
def delivery_detail(request, delivery_id):
    delivery = get_object_or_404(Delivery.objects.select_related("endpoint", "event"), pk=delivery_id, tenant=request.tenant)
    attempts = list(delivery.attempts.all())
    shown = (lambda headers: headers) if sees_header_values(request) else masked_request_headers
    for attempt in attempts:  # the endpoint's own header values (often credentials) are for those who may manage it
        attempt.shown_request_headers = shown(attempt.request_headers)
    return render(request, "dashboard/delivery_detail.html", {"delivery": delivery, "attempts": attempts,
                                                               "refresh_seconds": refresh_seconds(delivery)})


REFRESH_SECONDS = 2
REFRESH_HORIZON = timedelta(seconds=30)


def refresh_seconds(delivery, now=None):
    """While an attempt is about to happen (a new or test delivery, or a retry due within 30 s), the page reloads
    itself every 2 s (a meta refresh: no script needed) until it shows the attempt; otherwise None."""
    if delivery.status != DeliveryStatus.PENDING:
        return None
    now = now or timezone.now()
    if not delivery.attempt_count or delivery.next_attempt_at is None or delivery.next_attempt_at <= now + REFRESH_HORIZON:
        return REFRESH_SECONDS
    return None


@require_POST
@tenant_view()
def delivery_retry(request, delivery_id):
    delivery = get_object_or_404(Delivery, pk=delivery_id, tenant=request.tenant)
    try:
        retry_delivery(delivery)
    except NotRetryable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Delivery #{delivery.pk} is due again; the worker sends it shortly.")
    return redirect("dashboard:delivery", tenant=request.tenant.name, delivery_id=delivery.pk)

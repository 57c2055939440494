"""The events the hub recorded, newest first: what the overview's Events figure counts, each with its deliveries;
searchable by event id, type, time and text in the body."""

from django.db.models import Count
from django.shortcuts import render

from dashboard.access import tenant_view
from dashboard.log_forms import EventSearchForm
from dashboard.pages import paginate
from subscriptions.models import Event
from subscriptions.selectors import SearchTooBroad, bounded_text_search, events_containing, text_search_reach

PER_PAGE = 50


@tenant_view()
def event_list(request):
    form = EventSearchForm(request.GET or None)
    events = Event.objects.filter(tenant=request.tenant).annotate(delivery_count=Count("deliveries")).order_by("-received_at", "-id")
    filtering = form.is_bound and form.is_valid() and any(form.cleaned_data.values())
    text = form.cleaned_data.get("text") if filtering else None
    reach = text_search_reach() if text else None
    if filtering:
        data = form.cleaned_data
        if data["q"]:
            events = events.filter(event_id=data["q"].strip())
        if data["type"]:
            events = events.filter(type__startswith=data["type"].rstrip("*")) if data["type"].endswith("*") else events.filter(type=data["type"])
        if data["since"]:
            events = events.filter(received_at__gte=data["since"])
        if data["until"]:
            events = events.filter(received_at__lte=data["until"])
        if data["text"]:
            events = events_containing(events, request.tenant, text, reach)
    try:
        with bounded_text_search(text):
            return render(request, "dashboard/events.html", {"form": form, "page": paginate(request, events, PER_PAGE), "filtering": filtering,
                                                             "text_reach": f"{reach:,}" if reach else None})
    except SearchTooBroad as exc:
        form.add_error("text", str(exc))
        return render(request, "dashboard/events.html", {"form": form, "page": paginate(request, events.none(), PER_PAGE), "filtering": True}, status=400)

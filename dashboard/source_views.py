"""Broker pages: sources (list, create/edit (versioned), delete) and dead letters (list, one letter, re-drive)."""

from django.contrib import messages
from django.db.models import Q
from django.db.models.functions import Left
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from dashboard.access import tenant_view
from dashboard.forms import DeadLetterFilterForm, SourceForm
from dashboard.pages import paginate
from subscriptions.broker import sources as source_services
from subscriptions.models import DeadLetter, Source
from subscriptions.selectors import visible_event_types
from tenants.models import Role

LIST_BODY_CHARS = 500  # a letter's body in the list: a glimpse; the letter's page shows more
DETAIL_BODY_CHARS = 64 * 1024  # the letter's page: enough to read, never the whole (up to 1 MiB) body in the HTML


# --- sources ---------------------------------------------------------------------------------


def get_source(request, source_id):
    # Scoped to the tenant the membership was checked for: another tenant's id is a 404 like any unknown id.
    return get_object_or_404(Source, pk=source_id, tenant=request.tenant)


def type_keys(tenant):
    return list(visible_event_types(tenant).values_list("key", flat=True))


def render_form(request, form, keys, source=None, conflict=False, status=200):
    return render(request, "dashboard/source_form.html", {"form": form, "source": source, "conflict": conflict, "type_keys": keys}, status=status)


@tenant_view()
def source_list(request):
    sources = Source.objects.filter(tenant=request.tenant).order_by("name")
    return render(request, "dashboard/sources.html", {"page": paginate(request, sources)})


@never_cache
@tenant_view(see=Role.EDITOR)
def source_new(request):
    keys = type_keys(request.tenant)
    if request.method != "POST":
        return render_form(request, SourceForm(initial={"enabled": True}), keys)
    form = SourceForm(request.POST, known_event_types=keys)
    if not form.is_valid():
        return render_form(request, form, keys, status=400)
    try:
        source = source_services.create_source(request.tenant, form.model_values)
    except source_services.SourceNameTaken as exc:
        form.add_error("name", str(exc))
        return render_form(request, form, keys, status=409)
    messages.success(request, f"Source '{source.name}' created. Dispatchers bind its exchange within seconds when the hub runs with AMQP_URL.")
    return redirect("dashboard:sources", tenant=request.tenant.name)


@never_cache
@tenant_view(see=Role.EDITOR)
def source_edit(request, source_id):
    source = get_source(request, source_id)
    keys = type_keys(request.tenant)
    if request.method != "POST":
        return render_form(request, SourceForm(initial=SourceForm.initial_for(source)), keys, source)
    form = SourceForm(request.POST, known_event_types=keys)
    if not form.is_valid():
        return render_form(request, form, keys, source, status=400)
    try:
        result = source_services.update_source(source, form.model_values, form.cleaned_data["version"])
    except source_services.SourceNameTaken as exc:
        form.add_error("name", str(exc))
        return render_form(request, form, keys, source, status=409)
    except Source.DoesNotExist:  # deleted between the read above and the update
        return render(request, "dashboard/not_found.html", {"what": "This source"}, status=404)
    if isinstance(result, source_services.Conflict):
        fresh = SourceForm(initial=SourceForm.initial_for(result.source))
        return render_form(request, fresh, keys, result.source, conflict=True, status=409)
    messages.success(request, f"Source '{result.name}' saved.")
    return redirect("dashboard:sources", tenant=request.tenant.name)


@tenant_view(see=Role.EDITOR)
def source_delete(request, source_id):
    source = get_source(request, source_id)
    if request.method == "POST":
        source_services.delete_source(source)
        messages.success(request, f"Deleted the source '{source.name}'. Its events and dead letters stay.")
        return redirect("dashboard:sources", tenant=request.tenant.name)
    return render(request, "dashboard/source_delete.html", {"source": source, "events": source.events.count(),
                                                            "dead_letters": source.dead_letters.count()})


# --- dead letters ----------------------------------------------------------------------------


@tenant_view()
def dead_letter_list(request):
    form = DeadLetterFilterForm(request.GET)
    letters = (source_services.dead_letters_of(request.tenant)
               .defer("body").annotate(body_head=Left("body", LIST_BODY_CHARS)))
    query = state = ""
    if form.is_valid():
        query, state = form.cleaned_data["q"].strip(), form.cleaned_data["state"]
    if query:
        letters = letters.filter(Q(reason__icontains=query) | Q(routing_key__icontains=query) | Q(exchange__icontains=query))
    if state:
        letters = letters.filter(redriven_at__isnull=state == "dead")
    return render(request, "dashboard/dead_letters.html", {
        "page": paginate(request, letters), "form": form, "query": query, "state": state, "filtering": bool(query or state),
        "body_chars": LIST_BODY_CHARS,
    })


def get_dead_letter(request, dead_letter_id):
    letters = DeadLetter.objects.select_related("source").defer("body").annotate(body_head=Left("body", DETAIL_BODY_CHARS))
    return get_object_or_404(letters, pk=dead_letter_id, tenant=request.tenant)


@never_cache
@tenant_view()
def dead_letter_detail(request, dead_letter_id):
    letter = get_dead_letter(request, dead_letter_id)
    return render(request, "dashboard/dead_letter_detail.html", {"letter": letter, "body_chars": DETAIL_BODY_CHARS})


@tenant_view(see=Role.EDITOR)
def dead_letter_redrive(request, dead_letter_id):
    """GET: the confirmation (works without JavaScript); POST: convert the stored message again, as the API's redrive."""
    if request.method != "POST":
        return render(request, "dashboard/dead_letter_redrive.html", {"letter": get_dead_letter(request, dead_letter_id)})
    letter = get_object_or_404(DeadLetter, pk=dead_letter_id, tenant=request.tenant)  # the whole body: it is converted again
    try:
        recorded = source_services.redrive_dead_letter(letter)
    except source_services.RedriveFailed as exc:
        messages.error(request, f"Not re-driven: {exc}")
    else:
        deliveries = f"{recorded.deliveries} deliver{'y' if recorded.deliveries == 1 else 'ies'}"
        if recorded.created:
            messages.success(request, f"Re-driven: event {recorded.event_id} recorded with {deliveries}.")
        else:
            messages.info(request, f"Already re-driven: event {recorded.event_id} was recorded before, so nothing new was recorded.")
    return redirect("dashboard:dead-letter", tenant=request.tenant.name, dead_letter_id=letter.pk)

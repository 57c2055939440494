"""Endpoint pages: list with health, create/edit (versioned), preview, secret once, rotate, test event, enable, delete, replay,
recover."""

import uuid

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dashboard.access import MANAGES_ENDPOINTS, sees_header_values, tenant_view
from dashboard.forms import EndpointForm, PreviewForm, ReplayForm, example_filter, example_payload, json_problems
from dashboard.log_forms import RecoverForm
from dashboard.pages import paginate
from dashboard.selectors import endpoint_health
from subscriptions.endpoints import services as endpoint_services
from subscriptions.delivery.actions import (
    PREVIEW_SIGNATURE_NOTE, RECOVER_MAX_SPAN, NotRetryable, UnknownEventType, masked_headers, preview_delivery, recover_endpoint, replay_endpoint,
    sample_data, send_test_event,
)
from subscriptions.endpoints.services import Conflict
from subscriptions.endpoints.validators import clean_custom_payload, clean_event_filter, clean_ordering
from subscriptions.core.matching import patterns_match
from subscriptions.models import Endpoint
from subscriptions.selectors import find_event_type, visible_event_types
from tenants.models import Role

CONFLICT_TEXT = "Someone changed this endpoint after you opened the form. Nothing was saved: below is its current state; apply your change again."


def get_endpoint(request, endpoint_id):
    # Scoped to the tenant the membership was checked for: another tenant's id is a 404 like any unknown id.
    return get_object_or_404(Endpoint, pk=endpoint_id, tenant=request.tenant)


@tenant_view()
def endpoint_list(request):
    page = paginate(request, Endpoint.objects.filter(tenant=request.tenant).order_by("created_at"))
    page.object_list = endpoint_health(Endpoint.objects.filter(pk__in=[e.pk for e in page.object_list]).order_by("created_at"))
    return render(request, "dashboard/endpoints.html", {"page": page})


def form_context(request, form, endpoint=None, preview=None, preview_form=None, conflict=False):
    types = list(visible_event_types(request.tenant))
    return {
        "form": form, "endpoint": endpoint, "conflict": conflict, "preview": preview,
        "preview_form": preview_form or PreviewForm(initial={"preview_type": (endpoint.events[0] if endpoint and "*" not in endpoint.events[0] else types[0].key if types else "")}),
        "type_keys": [t.key for t in types], "header_rows": form.header_rows + [("", "")],  # one blank row to type into
    }


def bound_form(request, endpoint=None):
    types = list(visible_event_types(request.tenant))
    headers = EndpointForm.headers_from(request.POST)
    return EndpointForm(request.POST, event_types=types, headers=headers)


@never_cache
@tenant_view(see=MANAGES_ENDPOINTS)
def endpoint_new(request):
    types = list(visible_event_types(request.tenant))
    if request.method != "POST":
        form = EndpointForm(event_types=types, initial={"enabled": True, "method": "POST", "timeout_seconds": 15})
        return render(request, "dashboard/endpoint_form.html", form_context(request, form))
    form = bound_form(request)
    if "preview" in request.POST:
        return render_preview_page(request, form)
    if not form.is_valid():
        return render(request, "dashboard/endpoint_form.html", form_context(request, form), status=400)
    endpoint, secret = endpoint_services.create_endpoint(request.tenant, form.model_values)
    if not request.membership.allows(Role.OWNER):
        # Secrets are for owners: an editor's new endpoint gets one, but only an owner's rotation reveals it.
        secret = None
        messages.success(request, "Endpoint created. Its signing secret is shown to owners only: ask an owner to rotate it and pass it on.")
    else:
        messages.success(request, "Endpoint created.")
    return redirect_showing_secret_once(request, endpoint, secret)


@never_cache
@tenant_view(see=MANAGES_ENDPOINTS)
def endpoint_edit(request, endpoint_id):
    endpoint = get_endpoint(request, endpoint_id)
    types = list(visible_event_types(request.tenant))
    if request.method != "POST":
        form = EndpointForm(initial=EndpointForm.initial_for(endpoint), event_types=types, headers=list(endpoint.headers.items()))
        return render(request, "dashboard/endpoint_form.html", form_context(request, form, endpoint))
    form = bound_form(request, endpoint)
    if "preview" in request.POST:
        return render_preview_page(request, form, endpoint)
    if not form.is_valid():
        return render(request, "dashboard/endpoint_form.html", form_context(request, form, endpoint), status=400)
    result = endpoint_services.update_endpoint(endpoint, form.model_values, form.cleaned_data["version"])
    if isinstance(result, Conflict):
        fresh = EndpointForm(initial=EndpointForm.initial_for(result.endpoint), event_types=types, headers=list(result.endpoint.headers.items()))
        return render(request, "dashboard/endpoint_form.html", form_context(request, fresh, result.endpoint, conflict=True), status=409)
    messages.success(request, "Endpoint saved.")
    return redirect("dashboard:endpoint", tenant=request.tenant.name, endpoint_id=endpoint.pk)


def render_detail(request, endpoint, secret=None, status=200):
    """The endpoint page. `secret` comes only once after a create or a rotation (take_secret_once)."""
    health = endpoint_health(Endpoint.objects.filter(pk=endpoint.pk))[0]
    type_keys = list(visible_event_types(request.tenant).values_list("key", flat=True))
    return render(request, "dashboard/endpoint_detail.html", {
        "endpoint": endpoint, "health": health, "secret": secret, "replay_form": ReplayForm(), "recover_days": RECOVER_MAX_SPAN.days,
        "recent": endpoint.deliveries.order_by("-created_at", "-id")[:10], "type_keys": type_keys,
        "test_type": next((key for key in type_keys if patterns_match(endpoint.events, key)), ""),
        "can_see_secret": request.membership.allows(Role.OWNER),
        "headers": endpoint.headers if sees_header_values(request) else masked_headers(endpoint.headers),
    }, status=status)


SECRET_ONCE = "eventhub.secret_once"


def redirect_showing_secret_once(request, endpoint, secret):
    """Post/redirect/get: the secret rides in the session to the endpoint's page, which takes it out as it shows it,
    so a reload shows it gone (and creates or rotates nothing)."""
    if secret:
        request.session[SECRET_ONCE] = {"endpoint": str(endpoint.pk), "secret": secret}
    return redirect("dashboard:endpoint", tenant=request.tenant.name, endpoint_id=endpoint.pk)


def take_secret_once(request, endpoint):
    held = request.session.get(SECRET_ONCE)
    if not held or held.get("endpoint") != str(endpoint.pk) or not request.membership.allows(Role.OWNER):
        return None
    del request.session[SECRET_ONCE]
    return held["secret"]


@never_cache
@tenant_view()
def endpoint_detail(request, endpoint_id):
    endpoint = get_endpoint(request, endpoint_id)
    return render_detail(request, endpoint, secret=take_secret_once(request, endpoint))


def preview_endpoint(request, form, endpoint=None):
    """An unsaved Endpoint carrying the form's values (the saved one's secrets when editing), or None when invalid."""
    if not form.is_valid():
        return None
    target = endpoint or Endpoint(tenant=request.tenant)
    for name, value in form.model_values.items():
        setattr(target, name, value)
    return target


def run_preview(request, form, endpoint=None):
    """(preview, preview_form, error message)."""
    preview_form = PreviewForm(request.POST)
    candidate = preview_endpoint(request, form, endpoint)
    if candidate is None:
        return None, preview_form, "Fix the form's errors to see a preview."
    if not preview_form.is_valid():
        return None, preview_form, " ".join(m for errors in preview_form.errors.values() for m in errors)
    try:
        return preview_delivery(candidate, preview_form.cleaned_data["preview_type"], preview_form.cleaned_data["preview_sample"]), preview_form, None
    except UnknownEventType as exc:
        return None, preview_form, str(exc)


def render_preview_page(request, form, endpoint=None):
    preview, preview_form, error = run_preview(request, form, endpoint)
    context = form_context(request, form, endpoint, preview=preview, preview_form=preview_form)
    context["preview_error"] = error
    context["signature_note"] = PREVIEW_SIGNATURE_NOTE
    return render(request, "dashboard/endpoint_form.html", context, status=200 if preview else 400)


@require_POST
@tenant_view(see=MANAGES_ENDPOINTS)
def endpoint_preview_json(request):
    """The live preview: the edit form's fields in, what the endpoint would receive out (JSON for dashboard.js)."""
    endpoint = None
    if request.POST.get("endpoint_id"):
        endpoint = get_endpoint(request, request.POST["endpoint_id"]) if _is_uuid(request.POST["endpoint_id"]) else None
    form = bound_form(request, endpoint)
    preview, _, error = run_preview(request, form, endpoint)
    if preview is None:
        # 200: an incomplete form is an ordinary answer here, not a bad request (Django logged every one as a warning).
        errors = {name: [str(m) for m in messages_] for name, messages_ in form.errors.items()} if form.errors else {}
        return JsonResponse({"ok": False, "error": error, "errors": errors})
    return JsonResponse({"ok": True, "matches": preview.matches, "reasons": preview.reasons, "body": preview.body, "headers": preview.headers,
                         "signedWith": preview.signed_with, "signatureNote": PREVIEW_SIGNATURE_NOTE})


JSON_FIELDS = {"event_filter": ("eventFilter", clean_event_filter), "custom_payload": ("customPayload", clean_custom_payload),
               "ordering": ("ordering", clean_ordering)}


@require_POST
@tenant_view(see=MANAGES_ENDPOINTS)
def endpoint_check_json(request):
    """Validation as you type: one JSON field of the form, judged by the same validators as a submit, each problem
    with its path; and examples for the chosen event type."""
    answer = {}
    field = request.POST.get("field", "")
    if field in JSON_FIELDS:
        label, validate = JSON_FIELDS[field]
        answer["problems"] = json_problems(request.POST.get("text", ""), label, validate)
    event_type = find_event_type(request.tenant, request.POST.get("event_type", "").strip())
    if event_type is not None:
        sample = sample_data(event_type)
        answer["examples"] = {"type": event_type.key, "data": sample, "event_filter": example_filter(event_type, sample),
                              "custom_payload": example_payload(sample)}
    return JsonResponse(answer)


def _is_uuid(value):
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


@never_cache
@require_POST
@tenant_view(change=Role.OWNER)
def endpoint_rotate(request, endpoint_id):
    endpoint = get_endpoint(request, endpoint_id)
    secret = endpoint_services.rotate_secret(endpoint)
    messages.success(request, "New secret created. The previous one keeps signing for 24 hours.")
    return redirect_showing_secret_once(request, endpoint, secret)


@require_POST
@tenant_view()
def endpoint_test(request, endpoint_id):
    endpoint = get_endpoint(request, endpoint_id)
    event_type = request.POST.get("event_type") or (endpoint.events[0] if endpoint.events else "")
    try:
        delivery = send_test_event(endpoint, event_type)
    except UnknownEventType as exc:
        messages.error(request, str(exc))
        return redirect("dashboard:endpoint", tenant=request.tenant.name, endpoint_id=endpoint.pk)
    url = reverse("dashboard:delivery", kwargs={"tenant": request.tenant.name, "delivery_id": delivery.pk})
    messages.success(request, f"Test event '{event_type}' queued as delivery #{delivery.pk}.")
    return redirect(url)


@require_POST
@tenant_view()
def endpoint_toggle(request, endpoint_id):
    endpoint = get_endpoint(request, endpoint_id)
    enable = request.POST.get("enabled") == "1"
    result = endpoint_services.update_endpoint(endpoint, {"enabled": enable}, read_int(request.POST.get("version")))
    if isinstance(result, Conflict):
        messages.error(request, "Someone changed this endpoint meanwhile; nothing was changed. This is its current state.")
    else:
        messages.success(request, "Endpoint enabled." if enable else "Endpoint disabled: it gets no deliveries until enabled again.")
    return redirect("dashboard:endpoint", tenant=request.tenant.name, endpoint_id=endpoint.pk)


def read_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@tenant_view(see=Role.EDITOR)
def endpoint_delete(request, endpoint_id):
    endpoint = get_endpoint(request, endpoint_id)
    if request.method == "POST":
        endpoint_services.delete_endpoint(endpoint)
        messages.success(request, f"Deleted the endpoint for {endpoint.url}. Its delivery log stays.")
        return redirect("dashboard:endpoints", tenant=request.tenant.name)
    return render(request, "dashboard/endpoint_delete.html", {"endpoint": endpoint, "deliveries": endpoint.deliveries.count()})


@require_POST
@tenant_view()
def endpoint_replay(request, endpoint_id):
    endpoint = get_endpoint(request, endpoint_id)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the time to replay from.")
    else:
        count = replay_endpoint(endpoint, form.cleaned_data["since"])
        messages.success(request, f"Replaying {count} deliver{'y' if count == 1 else 'ies'} since {form.cleaned_data['since']:%Y-%m-%d %H:%M} UTC.")
    return redirect("dashboard:endpoint", tenant=request.tenant.name, endpoint_id=endpoint.pk)


@require_POST
@tenant_view()
def endpoint_recover(request, endpoint_id):
    """The failed deliveries of a window sent again, as one action (delivery/actions.recover_endpoint)."""
    endpoint = get_endpoint(request, endpoint_id)
    form = RecoverForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
        return redirect("dashboard:endpoint", tenant=request.tenant.name, endpoint_id=endpoint.pk)
    since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    try:
        count = recover_endpoint(endpoint, since, until)
    except NotRetryable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Sending again {count} failed deliver{'y' if count == 1 else 'ies'} created from {since:%Y-%m-%d %H:%M} "
                                  f"to {until:%Y-%m-%d %H:%M} UTC, with their webhook-ids.")
    return redirect("dashboard:endpoint", tenant=request.tenant.name, endpoint_id=endpoint.pk)

"""Portal links (owners): make a link (its URL shown once), revoke one, and choose the sites that may frame the portal.
An editor link rotates secrets, which only owners do in the dashboard: so links are the owners' to hand out."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dashboard.access import tenant_view
from dashboard.pages import paginate
from dashboard.portal_forms import FrameOriginsForm, PortalLinkForm
from subscriptions.models import Endpoint
from subscriptions.portal import framing, links
from tenants.models import Role

URL_ONCE = "eventhub.portal_url_once"


def render_page(request, link_form=None, origins_form=None, status=200):
    endpoints = Endpoint.objects.filter(tenant=request.tenant).order_by("url")
    held = request.session.pop(URL_ONCE, None)  # shown once: a reload finds it gone
    shown = held if held and held.get("tenant") == request.tenant.name else None
    page, now = paginate(request, links.portal_links(request.tenant)), timezone.now()
    for link in page.object_list:
        link.current_state = link.state(now)
    return render(request, "dashboard/portal_links.html", {
        "page": page, "new_link": shown,
        "link_form": link_form or PortalLinkForm(endpoints=endpoints),
        "origins_form": origins_form or FrameOriginsForm(initial={"origins": "\n".join(framing.frame_origins(request.tenant.pk))}),
    }, status=status)


@never_cache
@tenant_view(see=Role.OWNER, change=Role.OWNER)
def portal_links(request):
    if request.method != "POST":
        return render_page(request)
    form = PortalLinkForm(request.POST, endpoints=Endpoint.objects.filter(tenant=request.tenant).order_by("url"))
    if form.is_valid():
        try:
            link, path = links.create_portal_link(request.tenant, created_by=request.user.username, **form.service_arguments())
        except links.PortalInvalid as exc:
            form.add_service_errors(exc.details)
        else:
            request.session[URL_ONCE] = {"tenant": request.tenant.name, "id": str(link.pk), "url": request.build_absolute_uri(path)}
            messages.success(request, "Portal link created. Copy its URL now: it is not shown again.")
            return redirect("dashboard:portal-links", tenant=request.tenant.name)
    return render_page(request, link_form=form, status=400)


@require_POST
@tenant_view(see=Role.OWNER, change=Role.OWNER)
def portal_link_revoke(request, link_id):
    link = links.revoke_portal_link(request.tenant, link_id)
    if link is None:
        messages.error(request, "There is no such portal link.")
    else:
        messages.success(request, "Portal link revoked: it opens nothing from now on.")
    return redirect("dashboard:portal-links", tenant=request.tenant.name)


@require_POST
@tenant_view(see=Role.OWNER, change=Role.OWNER)
def portal_frame_origins(request):
    form = FrameOriginsForm(request.POST)
    if form.is_valid():
        try:
            saved = framing.set_frame_origins(request.tenant, form.origin_list())
        except links.PortalInvalid as exc:
            form.add_service_errors(exc.details)
        else:
            messages.success(request, f"The portal may be framed by: {', '.join(saved)}." if saved else "No site may frame the portal.")
            return redirect("dashboard:portal-links", tenant=request.tenant.name)
    return render_page(request, origins_form=form, status=400)

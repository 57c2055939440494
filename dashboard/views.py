"""Dashboard pages: home, overview, catalog and subscriptions, members. Thin: read, call a service, render."""

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from dashboard import selectors as stats
from dashboard.access import tenant_view
from dashboard.forms import MemberForm, SubscriptionFieldsForm
from dashboard.pages import localized, paginate, redirect_back
from subscriptions.catalog import SOURCES, catalog_sources
from subscriptions.delivery.actions import sample_data
from subscriptions.selectors import event_subscriptions, find_event_type
from subscriptions.services import SUBSCRIBE, UNSUBSCRIBE, SubscriptionChange, apply_subscription_change
from tenants.access import tenants_of
from tenants.models import Membership, Role
from dashboard.invitations import send_invitation
from tenants.services import LastOwner, change_membership, invite_member

CATALOG_PER_PAGE = 60


def home(request):
    """The front door: the first tenant of a logged-in user, else the login page."""
    if not request.user.is_authenticated:
        return redirect("dashboard:login")
    memberships = tenants_of(request.user)
    if not memberships:
        return render(request, "dashboard/no_tenant.html", status=200)
    return redirect("dashboard:overview", tenant=memberships[0].tenant.name)


@tenant_view()
def overview(request):
    return render(request, "dashboard/overview.html", {"stats": stats.overview(request.tenant)})


# --- catalog & subscriptions -----------------------------------------------------------------


def source_labels():
    return {doc["source"]: doc["label"] for doc in catalog_sources()}


def catalog_rows(tenant, pairs, query, source):
    """The rows to show of [(EventType, EventSubscription | None)]: a search spans every source, else one source."""
    language = tenant.default_language
    rows = []
    for event_type, subscription in pairs:
        name, group = localized(event_type.name, language), localized(event_type.group, language)
        text = f"{event_type.key} {name} {group} {event_type.source}".lower()
        if query and not all(word in text for word in query.lower().split()):
            continue
        if source and not query and event_type.source != source:
            continue
        rows.append({"type": event_type, "sub": subscription, "name": name, "group": group,
                     "state": subscription.state if subscription else "NONE", "search": text})
    return rows


OPEN_PAGE_ROWS = 24  # a page with more rows shows its groups collapsed (Emporix's tab was 3,385 px tall)


def grouped(rows, searching=False):
    """[{source, groups: [{name, rows, subscribed, open}]}] keeping catalog order. On a long page a group starts
    collapsed to one line (its name, size and how many are subscribed) unless it holds a subscription or was searched."""
    sources = {}
    for row in rows:
        groups = sources.setdefault(row["type"].source, {})
        groups.setdefault(row["group"], []).append(row)
    short = len(rows) <= OPEN_PAGE_ROWS
    result = []
    for source, groups in sources.items():
        shown = []
        for name, items in groups.items():
            subscribed = sum(1 for r in items if r["state"] == "SUBSCRIBED")
            shown.append({"name": name, "rows": items, "subscribed": subscribed,
                          "open": searching or short or subscribed > 0 or len(groups) == 1})
        result.append({"source": source, "groups": shown})
    return result


def read_version(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@tenant_view()
def catalog(request):
    tenant = request.tenant
    conflicts = []
    if request.method == "POST":
        changes = catalog_changes(request.POST)
        if not changes:
            messages.warning(request, "Select at least one event type first.")
            return redirect_back(request, request.path)
        results = [apply_subscription_change(tenant, change) for change in changes]
        done = [r.event_type for r in results if r.ok]
        conflicts = [r for r in results if r.code == 409]
        for r in results:
            if not r.ok and r.code != 409:
                messages.error(request, r.message)
        if done:
            verb = "Subscribed to" if changes[0].action == SUBSCRIBE else "Unsubscribed from"
            messages.success(request, f"{verb} {', '.join(done)}.")
        if not conflicts:
            return redirect_back(request, request.path)

    query = request.GET.get("q", "").strip()[:200]
    labels = source_labels()
    pairs = event_subscriptions(tenant)
    present = {t.source for t, _ in pairs}
    source_tabs = [s for s in SOURCES if s in present] + sorted(present - set(SOURCES))
    source = request.GET.get("source") or (source_tabs[0] if source_tabs else "")
    page = paginate(request, catalog_rows(tenant, pairs, query, source), CATALOG_PER_PAGE)
    conflict_keys = {c.event_type for c in conflicts}
    conflicted = catalog_rows(tenant, [(t, s) for t, s in pairs if t.key in conflict_keys], "", "")
    context = {
        "page": page, "sources": grouped(page.object_list, searching=bool(query)), "query": query, "source": source,
        "source_tabs": [{"key": s, "label": localized(labels.get(s, {"en": s}), tenant.default_language)} for s in source_tabs],
        "conflicts": conflicted, "subscribed_count": sum(1 for _, s in pairs if s is not None and s.state == "SUBSCRIBED"),
    }
    return render(request, "dashboard/catalog.html", context, status=409 if conflicts else 200)


def catalog_changes(post):
    """SubscriptionChanges from the catalog form: one row's button, or the bulk action over the checked rows."""
    toggle = post.get("toggle", "")
    if ":" in toggle:
        action, key = toggle.split(":", 1)
        keys = [key]
    else:
        action, keys = post.get("bulk_action", ""), post.getlist("selected")
    if action not in (SUBSCRIBE, UNSUBSCRIBE):
        return []
    return [SubscriptionChange(event_type=key, action=action, version=read_version(post.get(f"version:{key}"))) for key in dict.fromkeys(keys)]


@tenant_view()
def catalog_type(request, key):
    tenant = request.tenant
    event_type = find_event_type(tenant, key)
    if event_type is None:
        return render(request, "dashboard/not_found.html", {"what": f"Event type '{key}'"}, status=404)
    subscription = next((s for _, s in event_subscriptions(tenant, event_types=[key])), None)
    conflict = None
    if request.method == "POST":
        form = SubscriptionFieldsForm(request.POST, event_type=event_type)
        if form.is_valid():
            excluded = set(form.cleaned_data["excluded"])
            change = SubscriptionChange(
                event_type=key, action=form.cleaned_data["action"] or None,
                fields_to_subscribe=tuple(f for f in event_type.event_schema if f not in excluded),
                fields_to_unsubscribe=tuple(f for f in event_type.event_schema if f in excluded),
                version=form.cleaned_data["version"],
            )
            result = apply_subscription_change(tenant, change)
            if result.ok:
                messages.success(request, f"Saved '{key}'.")
                return redirect("dashboard:catalog-type", tenant=tenant.name, key=key)
            if result.code == 409:
                conflict = result
                subscription = next((s for _, s in event_subscriptions(tenant, event_types=[key])), None)
            else:
                form.add_error(None, result.message)
    else:
        form = None
    current = {"excluded": subscription.excluded_fields if subscription else [], "version": subscription.version if subscription else None}
    if form is None or conflict is not None:
        form = SubscriptionFieldsForm(initial=current, event_type=event_type)
    context = {
        "event_type": event_type, "sub": subscription, "state": subscription.state if subscription else "NONE", "form": form,
        "conflict": conflict, "example": sample_data(event_type), "name": localized(event_type.name, tenant.default_language),
        "group": localized(event_type.group, tenant.default_language), "description": localized(event_type.description, tenant.default_language),
        "fields": [{"name": n, "kind": k, "excluded": n in current["excluded"]} for n, k in event_type.event_schema.items()],
    }
    return render(request, "dashboard/catalog_type.html", context, status=409 if conflict else 200)


# --- members (owners) ------------------------------------------------------------------------


@tenant_view(see=Role.OWNER, change=Role.OWNER)
def members(request):
    tenant = request.tenant
    form = MemberForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        role = Role(form.cleaned_data["role"]).label.lower()
        with transaction.atomic():
            membership, invited = invite_member(tenant, who=form.cleaned_data["who"], role=form.cleaned_data["role"])
            if invited:  # the mail leaves once the user it invites is committed
                transaction.on_commit(lambda: send_invitation(request, membership.user, tenant, role))
        if invited:
            messages.success(request, f"Invited {membership.user.email} as {role}: they get an email with a one-time link to set a password.")
        else:
            messages.success(request, f"{membership.user.username} is now {role} of {tenant.name}.")
        return redirect("dashboard:members", tenant=tenant.name)
    listing = Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")
    return render(request, "dashboard/members.html", {"page": paginate(request, listing), "form": form, "roles": Role.choices},
                  status=400 if form.errors else 200)


@tenant_view(see=Role.OWNER, change=Role.OWNER)
def member_change(request, member_id):
    """GET: the confirmation before removing a member; POST: change the role, or remove (never the last owner)."""
    tenant = request.tenant
    if request.method != "POST":
        member = get_object_or_404(Membership.objects.select_related("user"), pk=member_id, tenant=tenant)
        return render(request, "dashboard/member_remove.html", {"member": member})
    remove = request.POST.get("remove") == "1"
    role = request.POST.get("role", "")
    if not remove and role not in Role.values:
        messages.error(request, "Pick a role.")
        return redirect("dashboard:members", tenant=tenant.name)
    try:
        member = change_membership(tenant=tenant, membership_id=member_id, role=role, remove=remove)
    except Membership.DoesNotExist:
        raise Http404("No such member.")
    except LastOwner as exc:
        messages.error(request, str(exc))
        return redirect("dashboard:members", tenant=tenant.name)
    if remove:
        messages.success(request, f"Removed {member.user.username} from {tenant.name}.")
    else:
        messages.success(request, f"{member.user.username} is now {Role(role).label.lower()}.")
    if remove and member.user_id == request.user.pk:
        return redirect("dashboard:home")
    return redirect("dashboard:members", tenant=tenant.name)

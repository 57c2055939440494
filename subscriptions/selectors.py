"""Reads of the catalog and of tenant event subscriptions."""

from django.db.models import Q

from subscriptions.models import EventSubscription, EventType


def visible_event_types(tenant):
    """Built-in types and the tenant's own, in catalog order."""
    return EventType.objects.filter(Q(tenant__isnull=True) | Q(tenant=tenant)).order_by("position", "key")


def find_event_type(tenant, key):
    if not isinstance(key, str):
        return None
    return visible_event_types(tenant).filter(key=key).first()


def change_pairs(tenant, keys):
    """{key: ChangePair} for those of `keys` whose type declares a change pair: built-in types from the catalog files
    (no query), the tenant's own types with one query, made only when `keys` holds a type that is not built in."""
    from subscriptions.catalog import builtin_change_pairs, builtin_keys
    from subscriptions.core.changes import change_pair

    builtin = builtin_change_pairs()
    pairs = {key: builtin[key] for key in keys if key in builtin}
    own = [key for key in keys if key not in builtin_keys()]
    if own:
        rows = EventType.objects.filter(tenant=tenant, key__in=own, changes__isnull=False).values_list("key", "changes")
        pairs.update((key, pair) for key, pair in ((key, change_pair(spec)) for key, spec in rows) if pair is not None)
    return pairs


def event_subscriptions(tenant, event_types=None, states=None):
    """[(EventType, EventSubscription | None)] for the tenant; states may include "NONE" (never subscribed)."""
    types = visible_event_types(tenant)
    if event_types:
        types = types.filter(key__in=event_types)
    subscriptions = {s.event_type_id: s for s in EventSubscription.objects.filter(tenant=tenant)}
    rows = [(t, subscriptions.get(t.id)) for t in types]
    if states:
        rows = [(t, s) for t, s in rows if (s.state if s else "NONE") in states]
    return rows


# --- the event and delivery log ---------------------------------------------------------------


def recent_events(tenant, event_type=None):
    """The tenant's events, newest first, each with its deliveries (one extra query per page, not per event)."""
    from django.db.models import Prefetch

    from subscriptions.models import Delivery, Event

    events = Event.objects.filter(tenant=tenant)
    if event_type:
        events = events.filter(type=event_type)
    deliveries = Delivery.objects.only(
        "id", "event_id", "endpoint_id", "url", "status", "attempt_count", "last_status_code", "last_error", "next_attempt_at"
    ).order_by("id")
    return events.prefetch_related(Prefetch("deliveries", queryset=deliveries))


def deliveries_log(tenant, endpoint_id=None, status=None, event_type=None, since=None, until=None, with_attempts=True):
    """The tenant's deliveries, newest first, each with its attempts (unless a listing needs none): the one
    delivery-log filter of the API and the dashboard. `event_type` is an endpoint-style pattern (`*` any run of
    characters); since/until bound created_at."""
    from subscriptions.models import Delivery

    deliveries = Delivery.objects.filter(tenant=tenant).select_related("endpoint")
    if endpoint_id:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(_type_pattern_q(event_type))
    if since:
        deliveries = deliveries.filter(created_at__gte=since)
    if until:
        deliveries = deliveries.filter(created_at__lte=until)
    return deliveries.select_related("event").prefetch_related("attempts") if with_attempts else deliveries


def _type_pattern_q(pattern: str) -> Q:
    """The database's spelling of core.matching.pattern_matches: exact, a prefix (`product.*`), else a regex."""
    from subscriptions.core.matching import pattern_regex

    if "*" not in pattern:
        return Q(event_type=pattern)
    head, _, tail = pattern.partition("*")
    if not tail:
        return Q(event_type__startswith=head)
    return Q(event_type__regex=pattern_regex(pattern).pattern)

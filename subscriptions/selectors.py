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

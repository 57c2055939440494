"""The routing cache: each tenant's RoutingIndex, compiled once per configuration and rebuilt only when the
tenant's endpoints or subscriptions change. The index itself (matching) is pure and lives in core/matching.py."""

from __future__ import annotations

import logging
import threading

from django.db.models import Count, Max

from subscriptions.core.conditions import compile_filter
from subscriptions.core.matching import Route, RoutingIndex
from subscriptions.core.payloads import compile_custom_payload
from subscriptions.models import Endpoint, EventSubscription, SubscriptionState

logger = logging.getLogger(__name__)

_indexes: dict[int, tuple[tuple, RoutingIndex]] = {}
_indexes_lock = threading.Lock()


def routing_stamp(tenant) -> tuple:
    """Changes whenever an endpoint or a subscription of the tenant is created, changed or removed."""
    endpoints = Endpoint.objects.filter(tenant=tenant).aggregate(n=Count("id"), m=Max("modified_at"))
    subscriptions = EventSubscription.objects.filter(tenant=tenant).aggregate(n=Count("id"), m=Max("modified_at"))
    return (endpoints["n"], endpoints["m"], subscriptions["n"], subscriptions["m"])


def routing_index(tenant) -> RoutingIndex:
    """The tenant's RoutingIndex, compiled once per configuration (two aggregate queries to check it is current)."""
    stamp = routing_stamp(tenant)
    cached = _indexes.get(tenant.pk)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    index = build_routing_index(tenant)
    with _indexes_lock:
        _indexes[tenant.pk] = (stamp, index)
    return index


def build_routing_index(tenant) -> RoutingIndex:
    subscriptions = {
        key: tuple(excluded)
        for key, excluded in EventSubscription.objects.filter(tenant=tenant, state=SubscriptionState.SUBSCRIBED).values_list(
            "event_type__key", "excluded_fields"
        )
    }
    routes = []
    for endpoint in Endpoint.objects.filter(tenant=tenant, enabled=True).only(
        "id", "url", "events", "event_filter", "custom_payload", "payload_format"
    ):
        try:
            routes.append(
                Route(
                    endpoint_id=endpoint.id,
                    url=endpoint.url,
                    patterns=tuple(endpoint.events),
                    filter=compile_filter(endpoint.event_filter, stored=True),
                    payload=compile_custom_payload(endpoint.custom_payload) if endpoint.custom_payload else None,
                    payload_format=endpoint.payload_format,
                )
            )
        except ValueError:
            # Validated at save time; a row that no longer compiles (e.g. stricter rules) must not stop the others.
            logger.error("endpoint %s has a filter or payload that does not compile; it receives nothing", endpoint.id)
    return RoutingIndex(routes, subscriptions)

"""The routing cache: each tenant's RoutingIndex, compiled once per routing version and rebuilt only when that
version changes (every writer of what routing reads bumps it: pipeline/routing_version.py). The index itself
(matching) is pure and lives in core/matching.py; preview compiles an endpoint with the same compile_route."""

from __future__ import annotations

import logging
import threading

from subscriptions.core.conditions import compile_filter
from subscriptions.core.matching import Route, RoutingIndex
from subscriptions.core.payloads import compile_custom_payload
from subscriptions.models import Endpoint, EventSubscription, SubscriptionState
from subscriptions.pipeline.routing_version import routing_version

logger = logging.getLogger(__name__)

_indexes: dict[int, tuple[object, RoutingIndex]] = {}
_indexes_lock = threading.Lock()


def routing_index(tenant) -> RoutingIndex:
    """The tenant's RoutingIndex, compiled once per routing version (one primary-key lookup to check it is current)."""
    version = routing_version(tenant)  # before the rows: see routing_version.py
    cached = _indexes.get(tenant.pk)
    if cached is not None and cached[0] == version:
        return cached[1]
    index = build_routing_index(tenant)
    with _indexes_lock:
        _indexes[tenant.pk] = (version, index)
    return index


def build_routing_index(tenant) -> RoutingIndex:
    routes = []
    for endpoint in Endpoint.objects.filter(tenant=tenant, enabled=True).only(
        "id", "url", "events", "event_filter", "custom_payload", "payload_format", "excluded_fields"
    ):
        try:
            routes.append(compile_route(endpoint))
        except ValueError:
            # Validated at save time; a row that no longer compiles (e.g. stricter rules) must not stop the others.
            logger.error("endpoint %s has a filter or payload that does not compile; it receives nothing", endpoint.id)
    return RoutingIndex(routes, subscribed_types(tenant))


def subscribed_types(tenant, keys=None) -> dict[str, tuple[str, ...]]:
    """The tenant's SUBSCRIBED event types (of `keys`, or all) with their excludedFields: what RoutingIndex takes."""
    rows = EventSubscription.objects.filter(tenant=tenant, state=SubscriptionState.SUBSCRIBED)
    if keys is not None:
        rows = rows.filter(event_type__key__in=keys)
    return {key: tuple(excluded) for key, excluded in rows.values_list("event_type__key", "excluded_fields")}


def compile_route(endpoint) -> Route:
    """An endpoint as the routing index holds it; ValueError when its filter or payload does not compile."""
    return Route(
        endpoint_id=endpoint.id,
        url=endpoint.url,
        patterns=tuple(endpoint.events),
        filter=compile_filter(endpoint.event_filter, stored=True),
        payload=compile_custom_payload(endpoint.custom_payload) if endpoint.custom_payload else None,
        payload_format=endpoint.payload_format,
        excluded=None if endpoint.excluded_fields is None else tuple(endpoint.excluded_fields),
    )

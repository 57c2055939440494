"""The routing cache: each tenant's RoutingIndex and known event types, built once per routing version and rebuilt
only when that version changes (every writer of what routing reads bumps it: pipeline/routing_version.py). The index
itself (matching) is pure and lives in core/matching.py; preview compiles an endpoint with the same compile_route."""

from __future__ import annotations

import logging
import threading
from typing import NamedTuple

from subscriptions.core.conditions import compile_filter
from subscriptions.core.ordering import compile_ordering
from subscriptions.core.matching import Route, RoutingIndex
from subscriptions.core.payloads import compile_custom_payload
from subscriptions.models import Endpoint, EventSubscription, SubscriptionState
from subscriptions.pipeline.routing_version import routing_version
from subscriptions.selectors import visible_event_types

logger = logging.getLogger(__name__)


class TenantRouting(NamedTuple):
    """What recording needs of a tenant's configuration, as of one routing version."""

    version: object
    index: RoutingIndex
    known_types: frozenset  # every event type key the tenant may publish (built-in and its own)


_routings: dict[int, TenantRouting] = {}
_routings_lock = threading.Lock()


def tenant_routing(tenant) -> TenantRouting:
    """The tenant's routing, built once per routing version (one primary-key lookup to check it is current)."""
    version = routing_version(tenant)  # before the rows: see routing_version.py
    cached = _routings.get(tenant.pk)
    if cached is not None and cached.version == version:
        return cached
    built = TenantRouting(version, build_routing_index(tenant), frozenset(visible_event_types(tenant).values_list("key", flat=True)))
    with _routings_lock:
        _routings[tenant.pk] = built
    return built


def routing_index(tenant) -> RoutingIndex:
    """The tenant's RoutingIndex, compiled once per routing version."""
    return tenant_routing(tenant).index


def build_routing_index(tenant) -> RoutingIndex:
    routes = []
    for endpoint in Endpoint.objects.filter(tenant=tenant, enabled=True).only(
        "id", "url", "events", "event_filter", "custom_payload", "payload_format", "excluded_fields", "ordering"
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
        ordering=compile_ordering(endpoint.ordering),
    )

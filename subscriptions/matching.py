"""Which endpoints get an event: `events` patterns (exact keys or `*` wildcards), the routing index, and the bodies.

Pure: plain data in, plain data out. The index is built once per configuration change (see pipeline.routing_index)
and answers per event with a dict lookup plus the candidates' compiled filters, never a scan of every endpoint.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from subscriptions.conditions import Filter
from subscriptions.payloads import CustomPayload, shape_body

PATTERN_RE = re.compile(r"^(\*|[A-Za-z0-9_.:*\-]{1,200})$")
MAX_CACHED_TYPES = 10_000


@lru_cache(maxsize=4096)
def pattern_regex(pattern):
    """`*` stands for any run of characters (dots included); everything else is literal."""
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def pattern_matches(pattern, event_type):
    if "*" not in pattern:
        return pattern == event_type
    return pattern_regex(pattern).match(event_type) is not None


def patterns_match(patterns, event_type):
    return any(pattern_matches(p, event_type) for p in patterns)


@dataclass(frozen=True, slots=True)
class Route:
    """One enabled endpoint, compiled: what the index needs to pick it and shape its body."""

    endpoint_id: Any
    url: str
    patterns: tuple[str, ...]
    filter: Filter
    payload: CustomPayload | None


class RoutingIndex:
    """The enabled endpoints of one tenant, indexed by event type.

    `subscriptions` maps each SUBSCRIBED event type to its excludedFields; a type not in it reaches no endpoint.
    """

    __slots__ = ("_exact", "_wildcards", "_subscriptions", "_by_type")

    def __init__(self, routes: list[Route], subscriptions: dict[str, tuple[str, ...]]):
        self._exact: dict[str, list[Route]] = {}
        self._wildcards: list[tuple[str, Route]] = []
        for route in routes:
            for pattern in route.patterns:
                if "*" in pattern:
                    self._wildcards.append((pattern, route))
                else:
                    self._exact.setdefault(pattern, []).append(route)
        self._subscriptions = subscriptions
        self._by_type: dict[str, tuple[Route, ...]] = {}

    def candidates(self, event_type: str) -> tuple[Route, ...]:
        """Endpoints whose patterns select event_type, in a stable order, each once; () when not subscribed."""
        found = self._by_type.get(event_type)
        if found is None:
            if event_type not in self._subscriptions:
                found = ()
            else:
                routes = {id(r): r for r in self._exact.get(event_type, ())}
                for pattern, route in self._wildcards:
                    if id(route) not in routes and pattern_matches(pattern, event_type):
                        routes[id(route)] = route
                found = tuple(routes.values())
            if len(self._by_type) < MAX_CACHED_TYPES:
                self._by_type[event_type] = found
        return found

    def deliveries_for(self, envelope: dict) -> list[tuple[Route, str]]:
        """[(route, body)] for every endpoint the envelope goes to; the body is the JSON text to send.

        Order of the rules: subscription, patterns, eventFilter on the full envelope, then excludedFields and
        customPayload (payloads.shape_body), so an excluded field never leaves the hub.
        """
        event_type = envelope["type"]
        out = []
        for route in self.candidates(event_type):
            if route.filter.matches(envelope):
                body = shape_body(envelope, self._subscriptions[event_type], route.payload)
                out.append((route, json.dumps(body, ensure_ascii=False, separators=(",", ":"))))
        return out

"""Which endpoints get an event: `events` patterns (exact keys or `*` wildcards), the routing index, and the bodies.

Pure: plain data in, plain data out. The index is built once per configuration change (see pipeline/routing.py)
and answers per event with a dict lookup plus the candidates' compiled filters, never a scan of every endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from subscriptions.core.budget import DEFAULT_BUDGET, Undecided, time_budget
from subscriptions.core.conditions import Filter
from subscriptions.core.ordering import OrderKey
from subscriptions.core.jsontext import compact
from subscriptions.core.values import MISSING, path_resolver, scalar_key
from subscriptions.core.payloads import ENVELOPE, CustomPayload, shape_body

PATTERN_RE = re.compile(r"^(\*|[A-Za-z0-9_.:*\-]{1,200})$")
MAX_CACHED_TYPES = 10_000
# Below this many candidates for a type, evaluating every filter is as cheap as bucketing them.
MIN_CANDIDATES_TO_BUCKET = 8


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
    payload_format: str = ENVELOPE  # payloads.FORMATS
    excluded: tuple[str, ...] | None = None  # the endpoint's own excludedFields; None: the subscription's
    ordering: OrderKey | None = None  # the endpoint's `ordering`: its deliveries of one key go one at a time


class Verdict(NamedTuple):
    """What route() decides for one endpoint, in words: the body it gets (or would get), and why it does not."""

    body: str
    reasons: list[str]  # empty: route() delivers it
    undecided: bool = False  # the eventFilter was not decided within the budget: recorded as failed, not sent


class Routing(NamedTuple):
    """Where one event goes: [(route, body)] to send, and [(route, body)] whose filter the time budget left undecided."""

    deliveries: list[tuple[Route, str]]
    undecided: list[tuple[Route, str]]


class _Plan:
    """How to find the candidates of one event type that may match a given event.

    When many candidates pin the same path to values (`data.storeId == "store-12"`), they are bucketed by that
    value: an event is tested only against its bucket and the candidates that do not constrain the path.
    """

    __slots__ = ("resolve", "buckets", "rest", "all")

    def __init__(self, candidates: tuple[Route, ...]):
        self.all = candidates
        self.resolve = None
        self.buckets: dict[tuple, tuple[Route, ...]] = {}
        self.rest = candidates
        if len(candidates) < MIN_CANDIDATES_TO_BUCKET:
            return
        counts: dict[str, int] = {}
        for route in candidates:
            for path in route.filter.equalities:
                counts[path] = counts.get(path, 0) + 1
        if not counts:
            return
        path, count = max(counts.items(), key=lambda item: item[1])
        if count < MIN_CANDIDATES_TO_BUCKET:
            return
        buckets: dict[tuple, list[Route]] = {}
        rest = []
        for route in candidates:
            keys = route.filter.equalities.get(path)
            if keys is None:
                rest.append(route)
            else:
                for key in keys:
                    buckets.setdefault(key, []).append(route)
        self.resolve = path_resolver(path)
        self.buckets = {key: tuple(routes) for key, routes in buckets.items()}
        self.rest = tuple(rest)

    def routes_for(self, envelope: dict):
        if self.resolve is None:
            return self.all
        value = self.resolve(envelope)
        key = scalar_key(value) if value is not MISSING else None
        bucket = self.buckets.get(key, ()) if key is not None else ()
        if not bucket:
            return self.rest
        if not self.rest:
            return bucket
        return bucket + self.rest


class RoutingIndex:
    """The enabled endpoints of one tenant, indexed by event type, then by a value many of their filters pin.

    `subscriptions` maps each SUBSCRIBED event type to its excludedFields; a type not in it reaches no endpoint.
    """

    __slots__ = ("_exact", "_wildcards", "_subscriptions", "_by_type", "_plans")

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
        self._plans: dict[str, _Plan] = {}

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
        """[(route, body)] for every endpoint the envelope goes to; the body is the JSON text to send."""
        return self.route(envelope).deliveries

    def route(self, envelope: dict, budget: float = DEFAULT_BUDGET, source: str | None = None) -> Routing:
        """Which endpoints the envelope goes to, with the body each gets (the JSON text to send).

        Order of the rules: subscription, patterns, eventFilter on the full envelope, then excludedFields, the
        endpoint's payload format and customPayload (payloads.shape_body), so an excluded field never leaves the hub.
        `source` is the CloudEvents source of the event's way in (payloads.cloudevents_source).

        All filters of the event share `budget` seconds (conditions.time_budget), so one tenant's costly filters
        cost at most that per event; a filter still undecided when it is spent lands in `undecided`. Bodies are
        shaped after the filters, outside the budget, so large bodies never make a filter undecided.
        """
        event_type = envelope["type"]
        plan = self._plans.get(event_type)
        if plan is None:
            plan = _Plan(self.candidates(event_type))
            if len(self._plans) < MAX_CACHED_TYPES:
                self._plans[event_type] = plan
        candidates = plan.routes_for(envelope)
        if not candidates:
            return Routing([], [])
        matched, undecided = [], []
        with time_budget(budget):
            for route in candidates:
                try:
                    if route.filter.holds(envelope):
                        matched.append(route)
                except Undecided:
                    undecided.append(route)
        excluded = self._subscriptions[event_type]
        # One body per distinct (customPayload, format, excludedFields): the endpoints that agree on all three share
        # it, and an endpoint's own excludedFields never share a body shaped without them (or with another's).
        bodies: dict[tuple, str] = {}

        def body(route):
            key = (route.payload.key if route.payload is not None else None, route.payload_format, route.excluded)
            found = bodies.get(key)
            return found if found is not None else bodies.setdefault(key, _body(envelope, excluded, route, source))

        return Routing([(r, body(r)) for r in matched], [(r, body(r)) for r in undecided])

    def explain(self, route: Route, envelope: dict, budget: float = DEFAULT_BUDGET, excluded: tuple[str, ...] = (),
                source: str | None = None) -> Verdict:
        """route()'s decision for `route` (one of this index's), with a reason for each rule it fails.

        The decision is route()'s own; the reasons name the rules it applies (subscription, patterns, eventFilter)
        one by one. `excluded` shapes the body when the type is not subscribed (a subscribed type's are the index's).
        """
        event_type = envelope["type"]
        routing = self.route(envelope, budget, source)
        for found, body in routing.deliveries:
            if found is route:
                return Verdict(body, [])
        excluded = self._subscriptions.get(event_type, excluded)
        undecided = any(found is route for found, _ in routing.undecided)
        reasons = []
        if event_type not in self._subscriptions:
            reasons.append(f"The tenant is not subscribed to '{event_type}'.")
        if not patterns_match(route.patterns, event_type):
            reasons.append(f"None of the endpoint's events ({', '.join(route.patterns)}) selects '{event_type}'.")
        if undecided:
            reasons.append("The eventFilter could not be decided within the time one event may spend on matching; "
                           "the delivery would be recorded as failed, not sent.")
        else:
            try:
                with time_budget(budget):
                    holds = route.filter.holds(envelope)
            except Undecided:
                holds = None
            if holds is False:
                reasons.append("The eventFilter does not match this event.")
            elif holds is None:
                reasons.append("The eventFilter could not be decided within the time one event may spend on matching.")
        if not reasons:  # route() left it out for a rule not named above: say so rather than claim a match
            reasons.append("The routing rules do not select this endpoint for this event.")
        return Verdict(_body(envelope, excluded, route, source), reasons, undecided)


def _body(envelope: dict, excluded: tuple[str, ...], route: Route, source: str | None) -> str:
    if route.excluded is not None:
        excluded = route.excluded  # the endpoint's own choice replaces the subscription's
    shaped = shape_body(envelope, excluded, route.payload, route.payload_format, source)
    return compact(shaped)

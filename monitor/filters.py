"""The viewer's server-side filter: validated from a client message, compiled once, applied to every item. Pure.

{action: "filter", types: [patterns], routingKey: pattern, source: name, outcome: value}; every key optional, an
empty filter passes everything. Type patterns are the endpoints' (`*` is any run of characters); the routing-key
pattern is AMQP topic syntax (`*` one word, `#` zero or more words), checked and matched by the broker's own rules in
subscriptions/core/amqp.py, so a pattern means here what it means for a source's binding keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from subscriptions.core.amqp import binding_key_problem, topic_matches
from subscriptions.core.matching import patterns_match

MAX_TYPES = 20
MAX_PATTERN = 200
MAX_SOURCE = 100
OUTCOMES = ("succeeded", "retrying", "failed", "disabled", "dead_lettered")
TYPE_PATTERN_RE = re.compile(r"^[A-Za-z0-9_.:*\-]{1,%d}$" % MAX_PATTERN)


class FilterError(ValueError):
    """A filter the viewer cannot use; .details lists every problem ({field, message})."""

    def __init__(self, details):
        super().__init__("; ".join(d["message"] for d in details))
        self.details = details


@dataclass(frozen=True)
class MonitorFilter:
    types: tuple[str, ...] = ()
    routing_key_pattern: str | None = None
    source: str | None = None
    outcome: str | None = None

    def describe(self) -> dict:
        return {"types": list(self.types), "routingKey": self.routing_key_pattern, "source": self.source, "outcome": self.outcome}

    def passes(self, item: dict) -> bool:
        if self.types and not patterns_match(self.types, item.get("type") or ""):
            return False
        if self.routing_key_pattern is not None and not topic_matches(self.routing_key_pattern, item.get("routingKey") or ""):
            return False
        if self.source is not None and item.get("source") != self.source:
            return False
        if self.outcome is not None and item.get("outcome") != self.outcome:
            return False
        return True


PASS_ALL = MonitorFilter()


def parse_filter(message: dict) -> MonitorFilter:
    details = []
    types = message.get("types") or []
    if not isinstance(types, list) or len(types) > MAX_TYPES:
        details.append({"field": "types", "message": f"types must be a list of at most {MAX_TYPES} patterns."})
        types = []
    for pattern in types:
        if not isinstance(pattern, str) or not TYPE_PATTERN_RE.match(pattern):
            details.append({"field": "types", "message": f"{str(pattern)[:50]!r} is not a type pattern (letters, digits, . _ : - and *)."})
    routing_key = message.get("routingKey") or None
    problem = binding_key_problem(routing_key) if routing_key is not None else None
    if problem:
        details.append({"field": "routingKey", "message": f"routingKey: {problem}"})
    source = message.get("source") or None
    if source is not None and (not isinstance(source, str) or len(source) > MAX_SOURCE):
        details.append({"field": "source", "message": f"source must be a source name of at most {MAX_SOURCE} characters."})
    outcome = message.get("outcome") or None
    if outcome is not None and outcome not in OUTCOMES:
        details.append({"field": "outcome", "message": f"outcome must be one of {', '.join(OUTCOMES)}."})
    unknown = sorted(set(message) - {"action", "types", "routingKey", "source", "outcome"})
    if unknown:
        details.append({"field": unknown[0][:50], "message": f"unknown filter field(s): {', '.join(k[:50] for k in unknown[:5])}."})
    if details:
        raise FilterError(details)
    return MonitorFilter(
        types=tuple(dict.fromkeys(types)),
        routing_key_pattern=routing_key,
        source=source,
        outcome=outcome,
    )

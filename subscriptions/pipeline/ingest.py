"""HTTP ingest: turn a request body (one event or a list) into validated IncomingEvents, or say exactly what is wrong.

All items are checked before anything is stored, so a refused batch leaves nothing behind.
"""

from __future__ import annotations

import re

from eventhub.api import NotADateTime, utc_datetime
from eventhub.conf import hub_setting
from subscriptions.pipeline.recording import IncomingEvent, Recorded, record_events
from subscriptions.pipeline.routing import tenant_routing

# The idempotency key: printable ASCII without spaces, so it can travel in logs, URLs and headers unchanged.
EVENT_ID_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
EVENT_FIELDS = frozenset({"type", "id", "timestamp", "data"})


class IngestError(ValueError):
    """details: [{field, message}], field naming the item index when the body is a list (e.g. "[3].type")."""

    def __init__(self, message, details):
        super().__init__(message)
        self.details = details


def ingest_events(tenant, body) -> list[Recorded]:
    """The HTTP way in: validate every item of the body, then record them all (one result per item), or raise
    IngestError and store nothing."""
    return record_events(tenant, parse_events(tenant, body))


def parse_events(tenant, body, known=None) -> list[IncomingEvent]:
    """One event object or a list of up to MAX_BATCH_ITEMS; raises IngestError naming every bad item and field.
    `known`: the event type keys the tenant may publish (default: its routing's, read here)."""
    limit = hub_setting("MAX_BATCH_ITEMS")
    if isinstance(body, dict):
        items, prefix = [body], lambda index: ""
    elif isinstance(body, list):
        if not body:
            raise IngestError("The list holds no events.", [{"field": "", "message": "The list holds no events."}])
        if len(body) > limit:
            message = f"The body holds {len(body)} events; at most {limit} are allowed in one request."
            raise IngestError(message, [{"field": "", "message": message}])
        items, prefix = body, lambda index: f"[{index}]"
    else:
        message = "The body must be an event object or a list of them."
        raise IngestError(message, [{"field": "", "message": message}])

    if known is None:
        known = tenant_routing(tenant).known_types
    events, details = [], []
    for index, item in enumerate(items):
        problems = list(_item_problems(item, known))
        if problems:
            details += [{"field": _join(prefix(index), name), "message": message} for name, message in problems]
        elif not details:
            events.append(
                IncomingEvent(type=item["type"], data=item["data"], id=item.get("id"), timestamp=_timestamp(item.get("timestamp")))
            )
    if details:
        first = details[0]
        message = f"{first['field']}: {first['message']}" if len(details) == 1 else f"{len(details)} problems; nothing was stored."
        raise IngestError(message, details[:100])
    return events


def _item_problems(item, known):
    if not isinstance(item, dict):
        yield "", "Expected an event object {type, id?, timestamp?, data}."
        return
    for name in sorted(set(item) - EVENT_FIELDS):
        yield name, "Unknown property."
    kind = item.get("type")
    if not isinstance(kind, str) or not kind:
        yield "type", "Required: the event type key (a string)."
    elif kind not in known:
        yield "type", f"Unknown event type '{kind[:200]}'."
    if "id" in item and item["id"] is not None and (not isinstance(item["id"], str) or not EVENT_ID_RE.match(item["id"])):
        yield "id", "Must be 1 to 200 printable ASCII characters without spaces."
    if "data" not in item:
        yield "data", "Required: the event's data (an object)."
    elif not isinstance(item["data"], dict):
        yield "data", f"Must be an object, not {type(item['data']).__name__}."
    if item.get("timestamp") is not None:
        try:
            utc_datetime(item["timestamp"])
        except NotADateTime as exc:
            yield "timestamp", str(exc)


def _timestamp(value):
    return None if value is None else utc_datetime(value)


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix and name else prefix or name

"""How deeply nested the JSON the hub accepts from outside (HTTP bodies, broker messages) may be. Pure.

json.loads stops near Python's recursion limit (about 1000 levels), but a value almost that deep is re-encoded later
from deep inside a request or a worker and raises RecursionError there: a 500, or an event no one can render. A
fixed, generous bound checked right after parsing turns that into one clear refusal at the door.
"""

import json

MAX_JSON_DEPTH = 100


class NestedTooDeeply(ValueError):
    """JSON whose arrays/objects nest deeper than the limit (or deep enough to exhaust the parser's recursion)."""

    def __init__(self, limit: int = MAX_JSON_DEPTH):
        super().__init__(f"nested more than {limit} levels deep")
        self.limit = limit


def loads(text, limit: int = MAX_JSON_DEPTH, **kwargs):
    """json.loads(text, **kwargs) that raises NestedTooDeeply instead of returning (or overflowing on) deep JSON.
    The one depth check for everything the hub parses from outside: HTTP bodies, broker messages, dashboard fields."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise NestedTooDeeply(limit) from None
    if text_nested_deeper_than(text, value, limit):
        raise NestedTooDeeply(limit)
    return value


def nested_deeper_than(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays/objects in `value` nest more than `limit` levels (iterative: never recurses itself)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def text_nested_deeper_than(text, value, limit: int = MAX_JSON_DEPTH) -> bool:
    """nested_deeper_than for a value parsed from `text`, skipping the walk when the text cannot nest that deep
    (the usual case: counting brackets is far cheaper than walking the value)."""
    if isinstance(text, bytes):
        brackets = text.count(b"[") + text.count(b"{")
    else:
        brackets = text.count("[") + text.count("{")
    return brackets > limit and nested_deeper_than(value, limit)

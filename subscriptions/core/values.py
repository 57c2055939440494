"""JSON values as the filter language sees them: type-strict equality (1 != true, "1" != 1, 1 == 1.0), hashable
scalar keys, and dotted paths into an event envelope. Pure; shared by conditions.py, matching.py and changes.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


class LocatedError(ValueError):
    """A value that cannot be compiled, and where inside it: `path` e.g. "$or[1].data.x" ("" for the whole)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# `changed` is there for update events whose type declares a change pair (core/changes.py).
ENVELOPE_KEYS = frozenset({"id", "type", "timestamp", "tenant", "data", "changed"})

_MISSING = object()  # what a path resolves to when the envelope has nothing there
MISSING = _MISSING
_INDEX = re.compile(r"[0-9]+")
_SCALARS = frozenset({str, int, float, bool, type(None)})
SCALARS = _SCALARS
JSON_TYPES = _SCALARS | {list, dict}


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _json_equal(a: Any, b: Any) -> bool:
    if is_number(a):
        return is_number(b) and a == b
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(map(_json_equal, a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return a == b


json_equal = _json_equal  # JSON equality, type-strict: also what core/changes.py compares values with


def json_key(value: Any) -> tuple:
    """A hashable key under which JSON-equal scalars coincide and different JSON types never do."""
    return (0 if is_number(value) else type(value), value)


def scalar_key(value: Any) -> tuple | None:
    """json_key for a JSON scalar; None for anything else (a list, an object, a missing value)."""
    return json_key(value) if type(value) in _SCALARS else None


def normalized_path(path: str) -> str:
    """The path as the resolver reads it: relative paths are below "data" (OpenRegister style)."""
    return path if path.split(".", 1)[0] in ENVELOPE_KEYS else f"data.{path}"


def path_resolver(path: str) -> Callable[[Any], Any]:
    """resolve(envelope) -> the value at path, or MISSING."""
    segments = path.split(".")
    if segments[0] not in ENVELOPE_KEYS:
        # OpenRegister paths are relative to the event data; "data.type" reaches a data field named "type".
        segments.insert(0, "data")
    return steps_resolver(tuple((s, int(s) if _INDEX.fullmatch(s) else None) for s in segments))


def steps_resolver(steps: tuple[tuple[str, int | None], ...]) -> Callable[[Any], Any]:
    """resolve(value) -> what the steps reach, or MISSING. A step is (key, index): the key in an object, the index
    (None: the step is no index) in a list; a step into anything else reaches nothing. Dotted paths (path_resolver)
    and customPayload's JSON pointers (payloads.py) are both spelled as steps."""

    def resolve(value: Any) -> Any:
        for key, index in steps:
            if isinstance(value, dict):
                value = value.get(key, _MISSING)
                if value is _MISSING:
                    return _MISSING
            elif index is not None and isinstance(value, list) and index < len(value):
                value = value[index]
            else:
                return _MISSING
        return value

    return resolve

"""What changed in an update event: the paths whose values differ between the new and the old object it carries.

Pure: plain data in, plain data out. An event type may declare a change pair, where in `data` its new and its old
object sit (entrecode's entryUpdated: `data` and `oldEntryData`; OpenRegister's ObjectUpdatedEvent: `newObject` and
`oldObject`). For such an event the envelope gains `changed`, computed once per event (changes_of); eventFilter's
`$changed` (conditions.py) reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from subscriptions.core.values import json_equal  # the filter language's equality: one rule

__all__ = [
    "ChangePair", "change_pair", "change_pair_problem", "change_pattern_problem", "changed_paths", "changes_of",
    "compile_change_patterns", "with_changes",
]

MAX_PAIR_PATH = 200
MAX_CHANGE_PATTERNS = 64  # paths in one $changed
MAX_CHANGE_PATTERN_LENGTH = 200
# A pair path: dotted segments of letters, digits, '_', '-', '$', ':' (the field names the seeds use).
_PAIR_PATH_RE = re.compile(r"^[A-Za-z0-9_$:\-]+(\.[A-Za-z0-9_$:\-]+)*$")
_MISSING = object()


class ChangePair(NamedTuple):
    """Where in `data` an update event carries its new and its old object (dotted paths)."""

    new: str
    old: str

    def as_json(self) -> dict:
        return {"new": self.new, "old": self.old}


def change_pair_problem(spec: Any) -> str | None:
    """Why `spec` is not a change pair ({"new": path, "old": path}), or None."""
    if not isinstance(spec, dict) or set(spec) != {"new", "old"}:
        return 'A change pair is {"new": "<path in data>", "old": "<path in data>"}.'
    for side in ("new", "old"):
        path = spec[side]
        if not isinstance(path, str) or len(path) > MAX_PAIR_PATH or not _PAIR_PATH_RE.match(path):
            return f"{side}: a dotted path into data (letters, digits, '_', '-', '$', ':'; at most {MAX_PAIR_PATH} characters)."
    if spec["new"] == spec["old"]:
        return "new and old must be different paths."
    return None


def change_pair(spec: Any) -> ChangePair | None:
    """The ChangePair of a stored spec, or None when there is none (or it is not one)."""
    if spec is None or change_pair_problem(spec):
        return None
    return ChangePair(spec["new"], spec["old"])


def _at(data: Any, path: str) -> Any:
    value = data
    for key in path.split("."):
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def changes_of(data: Any, pair: ChangePair) -> list[str]:
    """changed_paths of the new and the old object `pair` points at in `data`. A side that is missing or not an
    object counts as an empty object, so every key of the other side counts as changed."""
    new, old = _at(data, pair.new), _at(data, pair.old)
    return changed_paths(new if isinstance(new, dict) else {}, old if isinstance(old, dict) else {})


def changed_paths(new: dict, old: dict) -> list[str]:
    """The sorted dotted paths, relative to the objects, whose values differ: nested objects compared leaf by leaf,
    lists (and everything else) compared whole, JSON-type strict (1 == 1.0, 1 != true); a key on one side only
    counts as changed (at that key, not below it)."""
    out: list[str] = []
    _diff(new, old, "", out)
    out.sort()
    return out


def _diff(new: dict, old: dict, prefix: str, out: list[str]) -> None:
    for key in new.keys() | old.keys():
        path = prefix + key
        a, b = new.get(key, _MISSING), old.get(key, _MISSING)
        if a is _MISSING or b is _MISSING:
            out.append(path)
        elif type(a) is dict and type(b) is dict:
            _diff(a, b, path + ".", out)
        elif not json_equal(a, b):
            out.append(path)




def with_changes(envelope: dict, pair: ChangePair | None) -> dict:
    """The envelope with `changed` added when its type declares a pair; the same dict, untouched, otherwise."""
    if pair is None:
        return envelope
    return {**envelope, "changed": changes_of(envelope.get("data"), pair)}


# --- $changed: which paths of the envelope's `changed` a filter asks about (conditions.py compiles it) ---

def change_pattern_problem(pattern: Any) -> str | None:
    """Why `pattern` cannot be a $changed path ("title", "price.*"), or None."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_CHANGE_PATTERN_LENGTH:
        return f"a changed path is a non-empty string of at most {MAX_CHANGE_PATTERN_LENGTH} characters"
    if "" in pattern.split("."):
        return f"'{pattern}' has an empty segment: segments are separated by single dots"
    if any("*" in segment and segment != "*" for segment in pattern.split(".")):
        return f"'{pattern}': '*' stands alone as a segment (it matches one path segment)"
    return None


def compile_change_patterns(patterns: Iterable[str]) -> Callable[[Any], bool]:
    """test(changed) -> does any pattern select any changed path? Patterns are validated before (see
    change_pattern_problem). A pattern selects a path when they agree segment by segment ('*' matches any one
    segment) as far as the shorter goes: `price` selects `price.amount`, and `price.amount` selects `price` (the
    whole price was added, removed or replaced by a non-object, so its amount changed too)."""
    exact: set[tuple[str, ...]] = set()
    wild: list[tuple[str, ...]] = []
    for pattern in patterns:
        segments = tuple(pattern.split("."))
        if "*" in segments:
            wild.append(segments)
        else:
            exact.add(segments)
    prefixes = {segments[:n] for segments in exact for n in range(1, len(segments) + 1)}
    wild_patterns = tuple(wild)

    def selects(path: str) -> bool:
        segments = tuple(path.split("."))
        if segments in prefixes:  # a pattern lies below (or at) the changed path
            return True
        for n in range(1, len(segments)):
            if segments[:n] in exact:  # the changed path lies below a pattern
                return True
        for pattern in wild_patterns:
            if all(p == "*" or p == s for p, s in zip(pattern, segments)):
                return True
        return False

    def test(changed: Any) -> bool:
        if type(changed) is not list:
            return False
        return any(type(path) is str and selects(path) for path in changed)

    return test

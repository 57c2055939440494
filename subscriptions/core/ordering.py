"""Ordered delivery per key: an endpoint's `ordering` ({"key": JSON pointer}) compiled once, and the key a delivery
gets from its event's envelope. Pure: plain data in, plain data out.

A delivery's key is the value at the pointer, as text bounded to MAX_KEY_TEXT characters (longer ones, and text a
database column cannot hold, become "#" and a SHA-256 digest, so a bounded column never truncates two keys into
one). Strings are themselves; other values their compact JSON, keys sorted (so 5 and "5" share a key: ordering more than needed
never breaks the promise, less would). No value at the pointer, or null: the event is not ordered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

MAX_POINTER = 200  # characters of the pointer
MAX_DEPTH = 16  # reference tokens of the pointer
MAX_KEY_TEXT = 64  # characters of a key kept as it is; "#" + 64 hex digits (65) beyond
KEY_COLUMN = 65  # Delivery.order_key's max_length
ENVELOPE_ROOTS = ("id", "type", "timestamp", "tenant", "data")  # what the pointer may start at: the envelope


class OrderingError(ValueError):
    """An `ordering` refused; `path` says where inside it ("key", or "" for the value as a whole)."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class OrderKey:
    """An endpoint's ordering pointer, parsed into its reference tokens."""

    pointer: str
    tokens: tuple[str, ...]

    def key_of(self, envelope: dict) -> str | None:
        """The delivery's key for this envelope, or None (not ordered) when there is no value at the pointer."""
        value: Any = envelope
        for token in self.tokens:
            if type(value) is dict:
                value = value.get(token)
            elif type(value) is list and token.isdigit() and (token == "0" or token[0] != "0") and int(token) < len(value):
                value = value[int(token)]
            else:
                return None
            if value is None:
                return None
        return key_text(value)


def key_text(value: Any) -> str:
    """A key value as bounded text: strings themselves, other values their compact JSON, object keys sorted (integral floats as integers,
    so 1.0 and 1 share a key); beyond MAX_KEY_TEXT characters, or holding what a text column refuses (NUL, a lone
    surrogate), "#" and the SHA-256 of the text."""
    if type(value) is float and value.is_integer():
        value = int(value)
    text = value if type(value) is str else json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if len(text) <= MAX_KEY_TEXT and "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return "#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def compile_ordering(spec: Any) -> OrderKey | None:
    """An endpoint's `ordering` value compiled; None for none. Raises OrderingError for anything but
    {"key": pointer}, the pointer a valid RFC 6901 one into the envelope, at most MAX_POINTER characters and
    MAX_DEPTH tokens."""
    if spec is None:
        return None
    if type(spec) is not dict:
        raise OrderingError("", 'ordering must be an object: {"key": "/data/..."} (or null for none).')
    unknown = sorted(set(spec) - {"key"})
    if unknown:
        raise OrderingError("", f"Unknown property {unknown[0]!r}: ordering has only 'key'.")
    if "key" not in spec:
        raise OrderingError("key", 'Required: a JSON pointer into the event, e.g. "/data/entryID".')
    pointer = spec["key"]
    if type(pointer) is not str:
        raise OrderingError("key", 'Must be a JSON pointer string, e.g. "/data/entryID".')
    if len(pointer) > MAX_POINTER:
        raise OrderingError("key", f"At most {MAX_POINTER} characters.")
    if not pointer.startswith("/"):
        raise OrderingError("key", f"Invalid JSON pointer {pointer!r}: it must start with / (e.g. \"/data/entryID\").")
    tokens = tuple(_unescape(token, pointer) for token in pointer[1:].split("/"))
    if len(tokens) > MAX_DEPTH:
        raise OrderingError("key", f"At most {MAX_DEPTH} levels deep.")
    if tokens[0] not in ENVELOPE_ROOTS:
        raise OrderingError("key", f"Must point into the event: start with /{', /'.join(ENVELOPE_ROOTS)} (e.g. \"/data/entryID\").")
    return OrderKey(pointer, tokens)


def _unescape(token: str, pointer: str) -> str:
    """RFC 6901: "~1" is "/", "~0" is "~"; any other "~" is an error."""
    if "~" in token:
        rest = token.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise OrderingError("key", f"Invalid JSON pointer {pointer!r}: '~' must be followed by 0 or 1.")
        token = token.replace("~1", "/").replace("~0", "~")
    return token

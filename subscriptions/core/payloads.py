"""Delivered body shaping: excludedFields removal, customPayload (RFC 6901 JSON pointer) rendering and the payload
formats (envelope, data, cloudevents): the one place a body is built."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Union
from urllib.parse import quote

from jsonpointer import JsonPointer, JsonPointerException

from subscriptions.core.jsontext import compact
from subscriptions.core.values import MISSING, LocatedError, steps_resolver

__all__ = [
    "CONTENT_TYPES", "CustomPayload", "FORMATS", "PayloadError", "cloudevents_source", "compile_custom_payload", "exclude_fields",
    "shape_body",
]

ENVELOPE, DATA, CLOUDEVENTS = "envelope", "data", "cloudevents"  # models.PayloadFormat's values
FORMATS = (ENVELOPE, DATA, CLOUDEVENTS)
CONTENT_TYPES = {ENVELOPE: "application/json", DATA: "application/json", CLOUDEVENTS: "application/cloudevents+json"}

MAX_DEPTH = 16
MAX_LEAVES = 256

# A compiled template: (key, the pointer's resolver) for a leaf, (key, template) for a nested object.
Template = tuple[tuple[str, Union[Callable[[Any], Any], "Template"]], ...]
_ARRAY_INDEX = re.compile("0|[1-9][0-9]*")  # RFC 6901's array-index (no leading zero), as jsonpointer reads it


def _pointer_resolver(pointer: JsonPointer) -> Callable[[Any], Any]:
    """resolve(envelope) -> the value the pointer (parsed and checked by jsonpointer) points at, or MISSING.

    Resolved as steps over JSON's types (values.steps_resolver) rather than by jsonpointer.resolve, whose
    abc.Mapping / abc.Sequence checks at every step cost ~2.5 µs a pointer, most of rendering a customPayload. What
    it finds is what the library finds; "-" (the slot after a list's last element, which holds nothing yet) finds
    nothing."""
    return steps_resolver(tuple((part, int(part) if _ARRAY_INDEX.fullmatch(part) else None) for part in pointer.parts))


class PayloadError(LocatedError):
    """A customPayload that cannot be compiled; `path` names the key, e.g. "meta.title"."""


class CustomPayload:
    """A compiled customPayload. Build with compile_custom_payload(); render once per delivery. `key` is its spec as
    compact JSON: two compiled from equal specs (keys in the same order) render the same body."""

    __slots__ = ("_template", "key")

    def __init__(self, template: Template, key: str):
        self._template = template
        self.key = key

    def render(self, envelope: dict) -> dict:
        """Each pointer becomes the value it points at, or None when it points at nothing."""
        return _render(self._template, envelope)


def exclude_fields(data: dict, excluded: Iterable[str]) -> dict:
    """A new dict without the excluded root keys; data itself is left untouched."""
    if isinstance(excluded, str):
        raise TypeError("excluded must be a collection of field names, not one string")
    excluded = frozenset(excluded)
    return {key: value for key, value in data.items() if key not in excluded}


def compile_custom_payload(spec: dict) -> CustomPayload:
    """Validate spec completely and return a CustomPayload; raise PayloadError at the first problem."""
    leaves = [0]
    template = _compile(spec, "", 1, leaves)
    return CustomPayload(template, compact(spec))


def shape_body(envelope: dict, excluded_fields: Iterable[str], custom_payload: CustomPayload | None,
               payload_format: str = ENVELOPE, source: str | None = None) -> dict:
    """The one place a delivered body is built: exclusion first, so no pointer and no format can reach an excluded
    field; then the format and customPayload.

    - envelope: {id, type, timestamp, tenant, data (, changed)}; customPayload pointers resolve against it.
    - data: the producer's body (`data`) is the root; customPayload pointers resolve against it ({"Id": "/object/id"}).
    - cloudevents: CloudEvents 1.0 structured mode; `data` is the event's data, or the customPayload rendered against
      the envelope; `source` is the URI reference of the way in (cloudevents_source).

    The result is a new dict or `data` itself; nested values are shared with envelope, so serialize it, don't mutate it.
    """
    data = envelope.get("data")
    if excluded_fields and isinstance(data, dict):
        data = exclude_fields(data, excluded_fields)
        envelope = {**envelope, "data": data}
    if payload_format == DATA:
        return data if custom_payload is None else custom_payload.render(data)
    if payload_format == CLOUDEVENTS:
        return {
            "specversion": "1.0",
            "id": envelope["id"],
            "source": source or cloudevents_source(envelope.get("tenant") or "", "http"),
            "type": envelope["type"],
            "time": envelope["timestamp"],
            "datacontenttype": "application/json",
            "data": data if custom_payload is None else custom_payload.render(envelope),
        }
    if custom_payload is None:
        return dict(envelope)
    return custom_payload.render(envelope)


def cloudevents_source(tenant: str, origin: str, source_id: Any = None) -> str:
    """A CloudEvents `source`: a URI reference naming the hub, the tenant and the way the event came in, e.g.
    /eventhub/acme/http, /eventhub/acme/sources/<broker source id>, /eventhub/acme/test. With the event id (unique
    per tenant) it identifies the event, as the specification asks of source + id."""
    way = f"sources/{source_id}" if origin == "broker" and source_id else origin
    return f"/eventhub/{quote(tenant, safe='')}/{way}"


def _compile(spec: Any, path: str, depth: int, leaves: list[int]) -> Template:
    if type(spec) is not dict:
        raise PayloadError(path, "a custom payload must be an object")
    if depth > MAX_DEPTH:
        raise PayloadError(path, f"nested deeper than {MAX_DEPTH} levels")
    template = []
    for key, value in spec.items():
        if type(key) is not str:
            raise PayloadError(path, f"key {key!r} is not a string")
        key_path = f"{path}.{key}" if path else key
        if type(value) is dict:
            template.append((key, _compile(value, key_path, depth + 1, leaves)))
            continue
        leaves[0] += 1
        if leaves[0] > MAX_LEAVES:
            raise PayloadError(key_path, f"more than {MAX_LEAVES} pointers")
        template.append((key, _pointer(value, key_path)))
    return tuple(template)


def _pointer(value: Any, path: str) -> Callable[[Any], Any]:
    if type(value) is not str:
        raise PayloadError(path, 'must be a JSON pointer string ("" or "/...") or an object')
    try:
        return _pointer_resolver(JsonPointer(value))
    except JsonPointerException as error:
        raise PayloadError(path, f"invalid JSON pointer {value!r}: {error}") from None


def _render(template: Template, envelope: Any) -> dict:
    body = {}
    for key, node in template:
        if type(node) is tuple:
            body[key] = _render(node, envelope)
        else:
            value = node(envelope)
            body[key] = None if value is MISSING else value
    return body

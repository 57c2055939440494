"""Compact JSON text on the hot path (delivery bodies, JSON columns written in bulk): orjson, several times faster
than the standard library, and the standard library for what orjson does not take (integers beyond 64 bits,
keys that are not strings, lone surrogates). Either way: no spaces, UTF-8 unescaped, the same values (orjson
writes 1e-07 as 1e-7)."""

import json
from datetime import date, datetime
from uuid import UUID

import orjson


def compact(value) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def compact_bytes(value) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def rows_json(rows) -> str:
    """Rows (lists or tuples of JSON values, datetimes, UUIDs) as one JSON text, for a statement that takes them apart
    (bulk.document_values): as compact, except that datetimes and UUIDs are written too, keys that are str subclasses
    (an answer's header names are aiohttp's istr) go through orjson, and the standard library's fallback escapes
    non-ASCII, so a lone surrogate reaches PostgreSQL as an escape it refuses rather than text psycopg cannot encode."""
    try:
        return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(rows, separators=(",", ":"), default=_row_value)


def _row_value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a value a row holds")

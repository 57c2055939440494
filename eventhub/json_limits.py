"""What JSON the hub accepts from outside (HTTP bodies, dashboard fields, broker messages): how deeply nested, and
only text and numbers it can store and render again. Pure.

json.loads stops near Python's recursion limit (about 1000 levels), but a value almost that deep is re-encoded later
from deep inside a request or a worker and raises RecursionError there: a 500, or an event no one can render. A
fixed, generous bound checked right after parsing turns that into one clear refusal at the door.

json.loads also returns what no database keeps and no answer can carry: a lone surrogate (`"\\ud800"` is valid JSON
but not a character, so UTF-8 cannot encode it: PostgreSQL refuses it, SQLite keeps it and every later read of the
row is a 500), infinity (`1e400` overflows a float; `NaN` and `Infinity` are not JSON at all: PostgreSQL refuses
them, SQLite's JSON check drops the row without a word) and, for the doors that ask, NUL (PostgreSQL keeps no NUL in
text or jsonb). These are refused here, naming where each sits (`data.x`, `[0].data`), in keys as well as values.
Integers are kept exactly: both databases store any integer Python reads (at most MAX_INTEGER_DIGITS digits).
"""

import json
import math
import re
import sys
import threading

import orjson

MAX_JSON_DEPTH = 100
# Python refuses to read (or write) longer integers from text; the limit is read, not assumed, so both stay in step.
MAX_INTEGER_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 4300)() or 4300
MAX_PROBLEMS = 20

# A surrogate pair's escapes (one character), or one surrogate escape alone: a match of 6 characters is a lone one.
_SURROGATE_ESCAPES = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class NestedTooDeeply(ValueError):
    """JSON whose arrays/objects nest deeper than the limit (or deep enough to exhaust the parser's recursion)."""

    def __init__(self, limit: int = MAX_JSON_DEPTH):
        super().__init__(f"nested more than {limit} levels deep")
        self.limit = limit


class Unstorable(ValueError):
    """Valid JSON holding text or numbers the hub cannot store or render again. problems: [(path, message)], path
    as `data.x` / `[0].data` ("" for the whole document); str() reads "path: message" for the first."""

    def __init__(self, problems):
        self.problems = list(problems)
        path, message = self.problems[0]
        super().__init__(f"{path}: {message}" if path else message)

    def details(self, prefix=""):
        """[{field, message}], the API's error details; prefix places the document inside a larger one."""
        return [{"field": join_path(prefix, path), "message": message} for path, message in self.problems]


class _NotANumber:
    """Stands in, while parsing, for a number that is not finite, so the walk can say where it was."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


def loads(text, limit: int = MAX_JSON_DEPTH, *, refuse_nul: bool = False, **kwargs):
    """json.loads(text, **kwargs) for JSON from outside: raises NestedTooDeeply for JSON nested deeper than `limit`,
    Unstorable for lone surrogates, numbers that are not finite (NaN, Infinity, 1e400) or integers too long to read,
    and with refuse_nul for NUL characters, in keys or values. The one check for everything the hub parses."""
    if not kwargs and isinstance(text, (bytes, bytearray, str)) and not has_long_digit_run(text):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # the standard library's parse below says why, as it always has (or reads what orjson does not)
        else:
            return _checked_fast(text, value, limit, refuse_nul)
    _seen.odd = False
    try:
        value = _decode(text, kwargs)
    except RecursionError:
        raise NestedTooDeeply(limit) from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):  # the message of int()'s digit limit (Python 3.11+)
            raise
        raise Unstorable([("", f"Holds an integer of more than {MAX_INTEGER_DIGITS} digits, more than the hub reads.")]) from None
    if text_nested_deeper_than(text, value, limit):
        raise NestedTooDeeply(limit)
    if _seen.odd or _may_hold_unstorable_text(text, refuse_nul):
        problems = unstorable(value, refuse_nul=refuse_nul)
        if problems:
            raise Unstorable(problems)
    return value


# orjson parses in a fraction of the standard library's time, and it refuses everything the checks here refuse
# (lone surrogates, NaN and Infinity, numbers that overflow, nesting past 1024) and more (UTF-16, a BOM): whatever
# it refuses is parsed again by the standard library, which reads it or names the problem exactly as before. Two
# things it reads differently, so they never take its path: integers beyond 64 bits (orjson makes them floats; a
# run of 19 digits anywhere sends the text to the standard library) and options of the caller.
_LONG_DIGITS = {False: re.compile(rb"[0-9]{19}"), True: re.compile(r"[0-9]{19}")}
_DIGIT_MASK = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))  # ASCII digits -> "0", else " "
_LONG_RUN = b"0" * 19


def has_long_digit_run(text) -> bool:
    """Whether `text` holds 19 ASCII digits in a row (what _LONG_DIGITS finds). In UTF-8 an ASCII digit is one byte
    and no other character's bytes are digits, so the encoded text is masked (digits to "0", the rest to " ", in C)
    and searched for nineteen "0": ~0.6 µs for a typical message, against ~4.5 µs for the regular expression."""
    if isinstance(text, str):
        try:
            text = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: the expression reads it as it is
            return _LONG_DIGITS[True].search(text) is not None
    return _LONG_RUN in text.translate(_DIGIT_MASK)


def _checked_fast(text, value, limit, refuse_nul):
    """loads' checks for a value orjson read: the depth and, when asked, NUL (nothing else it accepts is refused)."""
    if text_nested_deeper_than(text, value, limit):
        raise NestedTooDeeply(limit)
    if refuse_nul and _may_hold_nul(text):
        problems = unstorable(value, refuse_nul=True)
        if problems:
            raise Unstorable(problems)
    return value


def _may_hold_nul(text):
    if isinstance(text, str):
        return "\\u0000" in text or "\x00" in text
    return b"\\u0000" in text or b"\x00" in text


# Numbers that are not finite are parsed as _NotANumber markers, so the walk can say where they sit; the hooks note
# in this thread that one was seen. One decoder for every call: json.loads with hooks would build a new decoder for
# each document, which cost a tenth of a publish's CPU.
_seen = threading.local()


def _not_a_number(text):
    _seen.odd = True
    return _NotANumber(text)


def _finite_float(digits):
    value = float(digits)
    return value if math.isfinite(value) else _not_a_number(digits)


_DECODER = json.JSONDecoder(parse_constant=_not_a_number, parse_float=_finite_float)


def _decode(text, kwargs):
    """json.loads(text) through the shared decoder (bytes read as json.loads reads them); other options than ours
    build a decoder of their own."""
    if kwargs:
        kwargs.setdefault("parse_constant", _not_a_number)
        kwargs.setdefault("parse_float", _finite_float)
        return json.loads(text, **kwargs)
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode(json.detect_encoding(text), "surrogatepass")
    elif not isinstance(text, str):
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(text).__name__}")
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def _may_hold_unstorable_text(text, refuse_nul):
    """Cheap test on the raw text: can the parsed value hold a surrogate (or NUL)? Usually not, and the walk is skipped."""
    if isinstance(text, (bytes, bytearray)):
        try:  # as json.loads reads bytes: surrogatepass lets encoded surrogates through
            text = bytes(text).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:  # UTF-16 or -32, which json.loads also reads: walk
            return True
    if "\\u" in text and (_has_lone_surrogate_escape(text) or (refuse_nul and "\\u0000" in text)):
        return True
    return (not text.isascii() and _SURROGATE.search(text) is not None) or (refuse_nul and "\x00" in text)


def _has_lone_surrogate_escape(text):
    return any(len(found.group()) == 6 for found in _SURROGATE_ESCAPES.finditer(text))


def unstorable(value, *, refuse_nul: bool = False) -> list[tuple[str, str]]:
    """[(path, message)] for every lone surrogate, non-finite number (and with refuse_nul, NUL)
    in `value`, keys included; at most MAX_PROBLEMS. Iterative: never recurses itself."""
    if _plain_text(value, refuse_nul) if type(value) is str else _plainly_storable(value, refuse_nul):
        return []
    return _walk(value, refuse_nul)


def _plain_text(text: str, refuse_nul) -> bool:
    """ASCII (so no lone surrogate) and, when asked, no NUL: storable as it is."""
    return text.isascii() and not (refuse_nul and "\x00" in text)


def _plainly_storable(value, refuse_nul, depth=0) -> bool:
    """True for what nearly every broker message's properties are (the dispatcher checks them, and its routing key,
    per message; a plain text is passed in unstorable itself): an object of ASCII texts without NUL, whole or finite
    numbers, and objects of those one level down; the walk decides the rest (and says where)."""
    if type(value) is not dict or depth > 1:
        return False
    for key, item in value.items():
        if type(key) is not str or not _plain_text(key, refuse_nul):
            return False
        kind = type(item)
        if kind is str:
            if not _plain_text(item, refuse_nul):
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind is dict:
            if not _plainly_storable(item, refuse_nul, depth + 1):
                return False
        elif not (kind is int or kind is bool or item is None):
            return False
    return True


def _walk(value, refuse_nul) -> list[tuple[str, str]]:
    problems = []
    stack = [(value, None)]  # (item, path as a linked (parent, segment) pair, built into text only when reported)
    while stack and len(problems) < MAX_PROBLEMS:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                stack.append((child, (where, key)))
            for key in item:
                reason = _text_problem(key, refuse_nul)
                if reason:
                    problems.append((_path_text(where), f"Holds a key with {reason}."))
        elif isinstance(item, list):
            stack.extend((child, (where, index)) for index, child in reversed(list(enumerate(item))))
        elif isinstance(item, str):
            reason = _text_problem(item, refuse_nul)
            if reason:
                problems.append((_path_text(where), f"Holds {reason}."))
        elif isinstance(item, _NotANumber):
            problems.append((_path_text(where), _number_problem(item.text)))
        elif isinstance(item, float) and not math.isfinite(item):
            problems.append((_path_text(where), _number_problem(repr(item))))
    return problems[:MAX_PROBLEMS]


def _text_problem(text, refuse_nul):
    found = _SURROGATE.search(text) if not text.isascii() else None
    if found:
        return f"a lone surrogate (U+{ord(found.group()):04X}), which is not a character: UTF-8 text cannot carry it"
    if refuse_nul and "\x00" in text:
        return "a NUL character (\\u0000), which the hub cannot store"
    return None


def _number_problem(text):
    if text in ("NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"):
        return f"Is {text}, which is not a JSON number."
    shown = text if len(text) <= 40 else text[:20] + "…" + text[-10:]
    return f"Is {shown}, a number too large to store (it overflows to infinity)."


def _path_text(where):
    segments = []
    while where is not None:
        where, segment = where
        segments.append(segment)
    path = ""
    for segment in reversed(segments):
        if isinstance(segment, int):
            path = f"{path}[{segment}]"
        else:  # a key that is itself refused is named with its escape, so the answer naming it can be encoded
            segment = segment.encode("utf-8", "backslashreplace").decode("utf-8")
            path = f"{path}.{segment}" if path else segment
    return path


def join_path(prefix, name):
    """`data` + `x` -> `data.x`; `[0]` + `data` -> `[0].data`; either may be empty; an index joins without a dot."""
    if not prefix or not name:
        return prefix or name
    return f"{prefix}{name}" if name.startswith("[") else f"{prefix}.{name}"


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


_UNSTORABLE_CHAR = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` as the hub can always store and publish it (NUL and lone surrogates become U+FFFD): for what must be
    kept whatever it held, such as a dead letter's message and reason."""
    if text.isascii() and "\x00" not in text:  # nearly always (every answer's headers): two C scans, no regex
        return text
    return _UNSTORABLE_CHAR.sub("\ufffd", text)


def storable_json(value, depth=0):
    """A JSON-like value with every text made storable and every non-finite number as text (dead-letter properties)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if depth > MAX_JSON_DEPTH:
        return None
    if isinstance(value, dict):
        return {storable_text(str(k)): storable_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_json(v, depth + 1) for v in value]
    return value

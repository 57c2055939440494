"""json_limits.loads reads with orjson first: it must accept, read and refuse exactly what the standard library's
path accepts, reads and refuses (the values, and each refusal's class and message)."""

import json
import re

import pytest

from eventhub import json_limits
from eventhub.json_limits import NestedTooDeeply, Unstorable, loads

CORPUS = [
    b'{"type": "product.created", "data": {"id": "p1", "price": 12.5, "tags": ["a", "b"], "n": null, "ok": true}}',
    b'[1.5e308, 2.2250738585072014e-308, 0.1, -0.0, 1e-400, 1e2, 1.0, -12, 0]',
    b'{"a": 1, "a": 2}', b' \t\n\r{} ', b'"\x7f"', '"caf\u00e9 \U0001f600"'.encode(), b'"\\ud83d\\ude00"',
    b'9223372036854775807', b'-9223372036854775808', b'18446744073709551616', b'-9223372036854775809',
    b'123456789012345678901234567890', b'[' + b'1' * 5000 + b']', b'{"id": "1234567890123456789012"}',
    b'1e400', b'-1E400', b'1.7976931348623157e309', b'NaN', b'[Infinity]', b'{"x": -Infinity}',
    b'"\\ud800"', b'{"\\udfff": 1}', b'"\\uDFFF\\uD800"', b'"\xed\xa0\x80"', b'"\xc0\x80"', b'"\xff"',
    b'\xef\xbb\xbf{}', '"\ud83d\ude00"'.encode("utf-16", "surrogatepass"), '{"a": [1]}'.encode("utf-32"),
    b'"\\u0000"', b'{"k\\u0000": 1}', b'"a\x01b"', b'"a\tb"', b'01', b'1.', b'-', b'.5', b'[1,]', b'{"a":1,}',
    b"'a'", b'\x00', b'', b'123abc', b'"\\x41"',
    b'[' * 100 + b']' * 100, b'[' * 101 + b']' * 101, b'{"a":' * 101 + b'1' + b'}' * 101, b'[' * 1100 + b']' * 1100,
]


def outcome(call):
    try:
        return ("value", repr(call()))
    except (ValueError, TypeError) as exc:  # JSONDecodeError, NestedTooDeeply and Unstorable are ValueErrors
        return (type(exc).__name__, str(exc), getattr(exc, "problems", None))


@pytest.fixture
def standard_library_only(monkeypatch):
    """loads as it was before orjson: every text goes the standard library's way."""
    def only_stdlib():
        monkeypatch.setattr(json_limits, "_LONG_DIGITS", {False: re.compile(rb""), True: re.compile(r"")})
    return only_stdlib


@pytest.mark.parametrize("refuse_nul", [False, True])
@pytest.mark.parametrize("text", CORPUS)
def test_orjson_first_reads_and_refuses_exactly_what_the_standard_library_path_does(text, refuse_nul, standard_library_only):
    fast = outcome(lambda: loads(text, refuse_nul=refuse_nul))
    as_text = outcome(lambda: loads(text.decode("utf-8", "surrogatepass"), refuse_nul=refuse_nul)) if _utf8(text) else None
    standard_library_only()
    assert fast == outcome(lambda: loads(text, refuse_nul=refuse_nul))
    if as_text is not None:
        assert as_text == outcome(lambda: loads(text.decode("utf-8", "surrogatepass"), refuse_nul=refuse_nul))


def _utf8(text):
    try:
        text.decode("utf-8", "surrogatepass")
        return True
    except UnicodeDecodeError:
        return False


def test_integers_beyond_64_bits_stay_exact():
    assert loads(b'{"n": 18446744073709551616, "m": -9223372036854775809}') == {"n": 2**64, "m": -(2**63) - 1}
    assert loads(b'[123456789012345678901234567890]') == [123456789012345678901234567890]


def test_the_checks_hold_on_the_fast_path():
    with pytest.raises(NestedTooDeeply):
        loads(b'[' * 101 + b']' * 101)
    with pytest.raises(Unstorable) as refused:
        loads(b'{"data": {"k": "a\\u0000b"}}', refuse_nul=True)
    assert refused.value.problems == [("data.k", "Holds a NUL character (\\u0000), which the hub cannot store.")]
    assert loads(b'{"data": {"k": "a\\u0000b"}}') == {"data": {"k": "a\x00b"}}


def test_what_the_caller_asks_of_the_parser_is_still_honoured():
    assert loads(b'{"a": 1.5}', parse_float=str) == {"a": "1.5"}
    assert json.loads('{"a": 1.5}') == loads('{"a": 1.5}')


PROPERTIES = [
    {"messageId": "m1", "type": "entryCreated", "timestamp": 1764000000000, "deliveryMode": 2, "redelivered": False, "priority": None},
    {"messageId": "m1", "headers": {"x-retry": 1, "x-origin": "ec", "x-weight": 0.5}},
    {"messageId": "m\x00", "type": "entryCreated"},
    {"m\x00": "key with a NUL"},
    {"messageId": "caf\udce9"},
    {"caf\udce9": 1},
    {"headers": {"x-weight": float("nan")}},
    {"headers": {"x-weight": float("inf"), "x-name": "b\x00"}},
    {"headers": {"deep": {"deeper": "caf\udce9"}}},
    {"headers": {"list": ["a", "\x00", float("-inf")]}},
    {"messageId": "café"},  # not ASCII, yet storable: the walk says so
    "a text",
    "a text with a NUL \x00",
    "caf\udce9",
    "café",
    ["a", "list"],
]


@pytest.mark.parametrize("value", PROPERTIES, ids=range(len(PROPERTIES)))
@pytest.mark.parametrize("refuse_nul", [False, True])
def test_the_shortcut_for_plain_properties_finds_what_the_walk_finds(value, refuse_nul):
    assert json_limits.unstorable(value, refuse_nul=refuse_nul) == json_limits._walk(value, refuse_nul)


DIGIT_RUNS = [
    '{"n": 1234567890123456789}', '{"n": 123456789012345678}', '{"id": "x1234567890123456789y"}', '[1.1234567890123456789]',
    '{"é": "12345678901234567890"}', '{"d": "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩"}', '{"s": "\ud800", "n": 12345678901234567890}',
    '{"s": "\ud800", "n": 1}', "0" * 19, "0" * 18 + "x0", "", '{"t": "2026-11-24T10:00:00.000Z", "n": 1764000000000}',
]


@pytest.mark.parametrize("text", DIGIT_RUNS)
def test_the_digit_run_check_finds_what_the_regular_expression_finds(text):
    expected = json_limits._LONG_DIGITS[True].search(text) is not None
    assert json_limits.has_long_digit_run(text) is expected
    try:
        encoded = text.encode()
    except UnicodeEncodeError:
        return
    assert json_limits.has_long_digit_run(encoded) is expected and json_limits.has_long_digit_run(bytearray(encoded)) is expected

"""An endpoint's `ordering` as the rules have it (core/ordering.py, validators.clean_ordering) and the key each event
gives its delivery. Pure: no database."""

import pytest
from django.core.exceptions import ValidationError

from subscriptions.core.ordering import KEY_COLUMN, MAX_DEPTH, MAX_KEY_TEXT, MAX_POINTER, compile_ordering, key_text
from subscriptions.endpoints.validators import clean_ordering
from subscriptions.validation import located

ENVELOPE = {"id": "e-1", "type": "product.updated", "timestamp": "2026-01-31T12:00:00.000Z", "tenant": "acme",
            "data": {"entryID": "A-1", "n": 5, "f": 5.0, "nested": {"a/b": {"~x": "deep"}}, "items": [{"id": "i0"}, {"id": "i1"}],
                     "nothing": None, "flag": True, "obj": {"b": 1, "a": [1, 2]}}}


def key(pointer, envelope=ENVELOPE):
    return compile_ordering({"key": pointer}).key_of(envelope)


def problems(value):
    with pytest.raises(ValidationError) as caught:
        clean_ordering(value)
    return located(caught.value)


def test_none_is_no_ordering():
    assert compile_ordering(None) is None
    assert clean_ordering(None) is None


def test_a_good_ordering_is_kept_as_given():
    assert clean_ordering({"key": "/data/entryID"}) == {"key": "/data/entryID"}


@pytest.mark.parametrize("pointer, expected", [
    ("/data/entryID", "A-1"),
    ("/id", "e-1"),
    ("/tenant", "acme"),
    ("/type", "product.updated"),
    ("/data/n", "5"),
    ("/data/f", "5"),  # 5.0 and 5 are one JSON number: one key
    ("/data/flag", "true"),
    ("/data/obj", '{"a":[1,2],"b":1}'),  # an object's keys sorted: one key however the producer ordered them
    ("/data/items/1/id", "i1"),
    ("/data/nested/a~1b/~0x", "deep"),  # RFC 6901 escapes: ~1 is "/", ~0 is "~"
])
def test_the_key_is_the_value_at_the_pointer_as_text(pointer, expected):
    assert key(pointer) == expected


@pytest.mark.parametrize("pointer", ["/data/missing", "/data/nothing", "/data/entryID/deeper", "/data/items/2/id",
                                     "/data/items/01/id", "/data/items/-/id", "/data/items/x"])
def test_no_value_at_the_pointer_means_the_event_is_not_ordered(pointer):
    assert key(pointer) is None


def test_a_long_key_is_hashed_to_a_bounded_text_that_still_tells_values_apart():
    long_a, long_b = "a" * 1000, "a" * 999 + "b"
    assert len(key_text(long_a)) == KEY_COLUMN and key_text(long_a).startswith("#")
    assert key_text(long_a) != key_text(long_b)
    assert key_text("a" * MAX_KEY_TEXT) == "a" * MAX_KEY_TEXT  # up to the bound: the value itself


@pytest.mark.parametrize("value", ["a\x00b", "lone \ud800 surrogate"])
def test_a_key_a_text_column_cannot_hold_is_hashed(value):
    text = key_text(value)
    assert text.startswith("#") and len(text) == KEY_COLUMN
    text.encode("utf-8")


@pytest.mark.parametrize("value, path, message", [
    ("/data/entryID", "", 'ordering must be an object: {"key": "/data/..."} (or null for none).'),
    ([{"key": "/data/x"}], "", 'ordering must be an object: {"key": "/data/..."} (or null for none).'),
    ({}, "key", 'Required: a JSON pointer into the event, e.g. "/data/entryID".'),
    ({"key": "/data/x", "order": "asc"}, "", "Unknown property 'order': ordering has only 'key'."),
    ({"key": 5}, "key", 'Must be a JSON pointer string, e.g. "/data/entryID".'),
    ({"key": None}, "key", 'Must be a JSON pointer string, e.g. "/data/entryID".'),
    ({"key": ""}, "key", "Invalid JSON pointer '': it must start with / (e.g. \"/data/entryID\")."),
    ({"key": "data/entryID"}, "key", "Invalid JSON pointer 'data/entryID': it must start with / (e.g. \"/data/entryID\")."),
    ({"key": "/data/a~2b"}, "key", "Invalid JSON pointer '/data/a~2b': '~' must be followed by 0 or 1."),
    ({"key": "/data/a~"}, "key", "Invalid JSON pointer '/data/a~': '~' must be followed by 0 or 1."),
    ({"key": "/entryID"}, "key", 'Must point into the event: start with /id, /type, /timestamp, /tenant, /data (e.g. "/data/entryID").'),
    ({"key": "/"}, "key", 'Must point into the event: start with /id, /type, /timestamp, /tenant, /data (e.g. "/data/entryID").'),
    ({"key": "/data/" + "x" * MAX_POINTER}, "key", f"At most {MAX_POINTER} characters."),
    ({"key": "/data" + "/x" * MAX_DEPTH}, "key", f"At most {MAX_DEPTH} levels deep."),
])
def test_a_bad_ordering_is_refused_saying_where_and_why(value, path, message):
    assert problems(value) == [(path, message)]


def test_the_bounds_themselves_are_allowed():
    deepest = "/data" + "/x" * (MAX_DEPTH - 1)
    longest = "/data/" + "x" * (MAX_POINTER - len("/data/"))
    assert clean_ordering({"key": deepest}) and clean_ordering({"key": longest})

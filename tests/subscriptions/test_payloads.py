"""Body shaping: excluded fields never leave the hub, custom payloads render RFC 6901 pointers."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonpointer import EndOfList, JsonPointer

from subscriptions.core.payloads import CustomPayload, PayloadError, compile_custom_payload, exclude_fields, shape_body

ENVELOPE = {
    "id": "evt_1",
    "type": "document.published",
    "timestamp": "2024-05-01T10:00:00Z",
    "tenant": "acme",
    "data": {
        "id": "doc-7",
        "title": "Quarterly Report",
        "description": "internal only",
        "authors": [{"name": "Ada"}, {"name": "Grace"}],
        "a/b": "slash",
        "m~n": "tilde",
        "": "empty key",
        "count": 0,
    },
}


def render(spec, envelope=ENVELOPE):
    return compile_custom_payload(spec).render(envelope)


def error_for(spec):
    with pytest.raises(PayloadError) as info:
        compile_custom_payload(spec)
    return info.value


# --- excluded fields ---


def test_exclude_fields_removes_root_keys_and_keeps_the_rest():
    data = {"id": 1, "secret": "x", "nested": {"secret": "kept"}}
    assert exclude_fields(data, ["secret"]) == {"id": 1, "nested": {"secret": "kept"}}


def test_exclude_fields_does_not_mutate_its_input():
    data = {"id": 1, "secret": "x"}
    result = exclude_fields(data, {"secret"})
    assert data == {"id": 1, "secret": "x"}
    assert result is not data


def test_exclude_fields_ignores_names_that_are_absent():
    assert exclude_fields({"id": 1}, ["missing"]) == {"id": 1}


def test_exclude_fields_refuses_a_bare_string_that_would_exclude_single_letters():
    with pytest.raises(TypeError, match=r"^excluded must be a collection of field names, not one string$"):
        exclude_fields({"i": 1, "d": 2, "id": 3}, "id")


# --- pointers ---


@pytest.mark.parametrize(
    "pointer, expected",
    [
        ("/id", "evt_1"),
        ("/data/title", "Quarterly Report"),
        ("/data/authors/0/name", "Ada"),
        ("/data/authors/1", {"name": "Grace"}),
        ("/data/a~1b", "slash"),
        ("/data/m~0n", "tilde"),
        ("/data/", "empty key"),
        ("/data/count", 0),
    ],
)
def test_pointer_renders_the_value_it_points_at(pointer, expected):
    assert render({"value": pointer}) == {"value": expected}


def test_empty_pointer_renders_the_whole_document():
    assert render({"event": ""}) == {"event": ENVELOPE}


@pytest.mark.parametrize(
    "pointer",
    [
        "/data/missing",
        "/missing/deeper",
        "/data/authors/2",  # index out of range
        "/data/authors/-",  # the slot after the last element holds nothing yet
        "/data/authors/-/name",
        "/data/authors/01",  # leading zeros are not an array index in RFC 6901
        "/data/authors/name",  # not an index at all
        "/data/title/0",  # into a string
        "/data/count/x",  # into a number
        "/data/a/b",  # "/" must be escaped as ~1 to reach the "a/b" key
    ],
)
def test_pointer_to_nothing_renders_null(pointer):
    assert render({"value": pointer}) == {"value": None}


def test_null_value_and_missing_value_both_render_null():
    envelope = {"data": {"present": None}}
    assert render({"a": "/data/present", "b": "/data/absent"}, envelope) == {"a": None, "b": None}


def test_nested_objects_render_with_the_same_shape():
    spec = {"kind": "/type", "meta": {"title": "/data/title", "who": {"first": "/data/authors/0/name"}}, "empty": {}}
    assert render(spec) == {
        "kind": "document.published",
        "meta": {"title": "Quarterly Report", "who": {"first": "Ada"}},
        "empty": {},
    }


def test_render_does_not_mutate_the_envelope():
    before = copy.deepcopy(ENVELOPE)
    render({"all": "", "title": "/data/title"})
    assert ENVELOPE == before


def test_compiled_payload_can_render_many_envelopes():
    payload = compile_custom_payload({"id": "/id"})
    assert isinstance(payload, CustomPayload)
    assert payload.render({"id": "a"}) == {"id": "a"}
    assert payload.render({"id": "b"}) == {"id": "b"}
    assert payload.render({}) == {"id": None}


# --- validation ---


@pytest.mark.parametrize(
    "spec, path, message",
    [
        ("/data/id", "", "a custom payload must be an object"),
        (["/data/id"], "", "a custom payload must be an object"),
        (None, "", "a custom payload must be an object"),
        ({"id": "data/id"}, "id", "invalid JSON pointer 'data/id': Location must start with /"),
        ({"meta": {"title": "data/title"}}, "meta.title", "invalid JSON pointer 'data/title': Location must start with /"),
        ({"meta": {"title": "/a~2b"}}, "meta.title", "invalid JSON pointer '/a~2b': Found invalid escape ~2"),
        ({"x": "/a~"}, "x", "invalid JSON pointer '/a~': Found invalid escape ~"),
        ({"x": 1}, "x", 'must be a JSON pointer string ("" or "/...") or an object'),
        ({"x": None}, "x", 'must be a JSON pointer string ("" or "/...") or an object'),
        ({"x": ["/id"]}, "x", 'must be a JSON pointer string ("" or "/...") or an object'),
        ({"meta": {1: "/id"}}, "meta", "key 1 is not a string"),
        ({2: "/id"}, "", "key 2 is not a string"),
    ],
)
def test_invalid_custom_payload_is_refused_naming_the_key_path(spec, path, message):
    error = error_for(spec)
    assert error.path == path
    assert error.message == message  # what the API answers, so the author can fix the payload
    assert str(error) == (f"{path}: {error.message}" if path else error.message)


def test_payload_error_is_a_value_error():
    assert issubclass(PayloadError, ValueError)


def test_nesting_up_to_16_levels_is_allowed_and_deeper_is_refused():
    def nested(levels):
        spec = {"leaf": "/id"}
        for _ in range(levels - 1):
            spec = {"k": spec}
        return spec

    assert compile_custom_payload(nested(16)).render({"id": 1}) is not None
    error = error_for(nested(17))
    assert error.path == ".".join(["k"] * 16)
    assert "deeper than 16" in error.message


def test_absurdly_deep_payload_is_refused_without_recursion_error():
    spec = {"leaf": "/id"}
    for _ in range(5000):
        spec = {"k": spec}
    assert "deeper than 16" in error_for(spec).message


def test_256_pointers_are_allowed_and_more_are_refused():
    compile_custom_payload({f"f{i}": "/id" for i in range(256)})
    error = error_for({"a": {f"f{i}": "/id" for i in range(200)}, "b": {f"f{i}": "/id" for i in range(57)}})
    assert error.path == "b.f56"
    assert "more than 256" in error.message


# --- shaping ---


def test_shape_body_without_options_returns_an_equal_new_envelope():
    body = shape_body(ENVELOPE, [], None)
    assert body == ENVELOPE
    assert body is not ENVELOPE


def test_shape_body_removes_excluded_fields_from_data_only():
    body = shape_body(ENVELOPE, ["description", "id"], None)
    assert "description" not in body["data"]
    assert "id" not in body["data"]
    assert body["id"] == "evt_1"  # the envelope's own id is not a data field


def test_shape_body_does_not_mutate_the_envelope():
    before = copy.deepcopy(ENVELOPE)
    shape_body(ENVELOPE, ["description"], compile_custom_payload({"d": "/data"}))
    assert ENVELOPE == before


def test_shape_body_applies_the_custom_payload():
    payload = compile_custom_payload({"title": "/data/title", "event": "/type"})
    assert shape_body(ENVELOPE, [], payload) == {"title": "Quarterly Report", "event": "document.published"}


@pytest.mark.parametrize("pointer", ["/data/description", "/data"])
def test_excluded_field_never_leaves_the_hub_even_through_a_pointer(pointer):
    payload = compile_custom_payload({"leak": pointer, "whole": ""})
    body = shape_body(ENVELOPE, ["description"], payload)
    assert "internal only" not in repr(body)
    if pointer == "/data/description":
        assert body["leak"] is None


def test_excluded_fields_apply_before_the_custom_payload():
    payload = compile_custom_payload({"data": "/data"})
    assert shape_body(ENVELOPE, ["authors", "a/b", "m~n", "", "count", "id"], payload) == {
        "data": {"title": "Quarterly Report", "description": "internal only"}
    }


def test_envelope_whose_data_is_not_an_object_is_shaped_without_exclusion():
    envelope = {"id": "e", "data": ["description"]}
    assert shape_body(envelope, ["description"], None) == envelope


# --- properties ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=25,
)
pointer_tokens = st.sampled_from(["0", "1", "-", "01", "data", "id", "a~1b", "m~0n", ""]) | st.text(max_size=3).map(
    lambda t: t.replace("~", "~0").replace("/", "~1")
)
pointers = st.lists(pointer_tokens, max_size=5).map(lambda tokens: "".join("/" + t for t in tokens))
specs = st.recursive(
    st.dictionaries(st.text(max_size=4), pointers, max_size=4),
    lambda children: st.dictionaries(st.text(max_size=4), pointers | children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(spec=specs, envelope=json_values, excluded=st.lists(st.sampled_from(["id", "data", "description", "0"])))
def test_compiled_payload_renders_any_envelope_without_raising(spec, envelope, excluded):
    payload = compile_custom_payload(spec)
    body = payload.render(envelope)
    assert body.keys() == spec.keys()
    if isinstance(envelope, dict):
        shape_body(envelope, excluded, payload)


@settings(max_examples=300, deadline=None)
@given(spec=json_values)
def test_arbitrary_json_either_compiles_or_raises_payload_error(spec):
    try:
        compile_custom_payload(spec)
    except PayloadError:
        pass


@settings(max_examples=500, deadline=None)
@given(pointer=pointers, envelope=json_values)
def test_a_pointer_renders_what_jsonpointer_resolves(pointer, envelope):
    """Rendering resolves pointers itself over JSON's types (jsonpointer's abc checks cost most of a render): it
    must find exactly what the library finds, and null where the library finds nothing or the end-of-list slot."""
    found = JsonPointer(pointer).resolve(envelope, None)
    expected = None if isinstance(found, EndOfList) else found
    rendered = compile_custom_payload({"value": pointer}).render(envelope)["value"]
    assert rendered == expected and type(rendered) is type(expected)


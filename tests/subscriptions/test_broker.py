"""The pure broker core: AMQP topic matching, binding key rules, message -> event conversion and its reasons."""

import datetime as dt
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventhub.json_limits import storable_json, storable_text
from subscriptions.core.amqp import (
    Rules, SourceRule, TypeRule, binding_key_problem, by_precedence, exchange_name_problem, topic_matches,
)
from subscriptions.core.messages import (
    Message, convert, json_safe, message_from_delivery, message_id, message_timestamp, plain_properties, shown_type,
)

ENTRY = {"entryID": "e1", "modelTitle": "mymodel", "shortID": "035af82b", "data": {"_creator": "dd50"}}
PROPS = {"persistent": True, "contentType": "application/json", "messageId": "8540d774-4863-4d2b-b788-4ecb19412e85",
         "type": "entryUpdated", "appId": "string", "timestamp": 1700000000123}
KNOWN = frozenset({"entryCreated", "entryUpdated", "cmd.sendMail", "custom.catchall"})


@pytest.mark.parametrize(
    "binding, routing_key, expected",
    [
        ("#", "a.b.c", True),
        ("#", "", True),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a", False),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("#.c", "c", True),
        ("#.c", "a.b.c", True),
        ("a.#.c", "a.c", True),
        ("a.#.c", "a.x.y.c", True),
        ("a.#.c", "a.x.y.d", False),
        ("*.*.*.entryCreated", "035af82b.mymodel.e1.entryCreated", True),
        ("035af82b.mymodel.*.entryCreated", "035af82b.mymodel.e1.entryCreated", True),
        ("035af82b.mymodel.*.entryCreated", "035af82b.other.e1.entryCreated", False),
        ("035af82b.mymodel.*.entryCreated", "035af82b.mymodel.e1.entryUpdated", False),
        ("a.b", "a.b", True),
        ("a.b", "a.bc", False),
        ("a+b.c", "a+b.c", True),  # literal, not a regex
        ("*", "", True),  # the empty routing key is one empty word
    ],
)
def test_topic_matching_follows_amqp_semantics(binding, routing_key, expected):
    assert topic_matches(binding, routing_key) is expected


@pytest.mark.parametrize("key", ["#", "*", "a.b", "035af82b.mymodel.*.entryCreated", "#.entryCreated", "a.#.b"])
def test_valid_binding_keys(key):
    assert binding_key_problem(key) is None


@pytest.mark.parametrize("key", ["", "a..b", ".a", "a.", "a*", "a.b#", "a b", "x" * 256, 5])
def test_invalid_binding_keys_say_why(key):
    assert binding_key_problem(key)


@pytest.mark.parametrize("key, problem", [
    ("", "A binding key is a non-empty string."),
    (None, "A binding key is a non-empty string."),
    ("x" * 256, "A binding key is at most 255 bytes long."),
    ("\u00e9" * 128, "A binding key is at most 255 bytes long."),  # 128 characters, 256 bytes in UTF-8
    ("a..b", "'a..b' has an empty word: words are separated by single dots."),
    ("a.b#", "'b#' in 'a.b#' is not a word, '*' or '#' ('*' and '#' stand alone between dots; no spaces)."),
])
def test_the_api_names_what_is_wrong_with_a_binding_key(key, problem):
    assert binding_key_problem(key) == problem


def test_a_binding_key_of_255_bytes_is_allowed():
    assert binding_key_problem("x" * 255) is None
    assert binding_key_problem("x" * 253 + ".#") is None


@pytest.mark.parametrize("name, problem", [
    ("", "An exchange name holds 1 to 255 letters, digits, '-', '_', '.' or ':'."),
    (None, "An exchange name holds 1 to 255 letters, digits, '-', '_', '.' or ':'."),
    ("eventhub.dead", "Exchange names starting with 'eventhub.' belong to the hub."),
    ("amq.direct", "Of the broker's own 'amq.' exchanges only amq.topic can be a source."),
])
def test_the_api_names_what_is_wrong_with_an_exchange_name(name, problem):
    assert exchange_name_problem(name) == problem


def test_a_name_of_255_characters_is_allowed():
    assert exchange_name_problem("x" * 255) is None


@pytest.mark.parametrize("name, ok", [("publicAPI", True), ("amq.topic", True), ("a:b-c_d.e", True), ("", False),
                                      ("with space", False), ("eventhub.dead", False), ("amq.direct", False), ("x" * 256, False)])
def test_exchange_names(name, ok):
    assert (exchange_name_problem(name) is None) is ok


def rules(*sources, known=KNOWN):
    return Rules(list(sources), {s.tenant_id: known for s in sources})


def source(tenant_id=1, keys=("#",), exchange="publicAPI", **kw):
    return SourceRule(id=f"s{tenant_id}", tenant_id=tenant_id, exchange=exchange, exchange_type="topic", binding_keys=tuple(keys), **kw)


def message(body=ENTRY, routing_key="035af82b.mymodel.e1.entryUpdated", exchange="publicAPI", **props):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Message(exchange, routing_key, raw, {**PROPS, **props})


def test_an_entrecode_message_becomes_an_event_with_its_properties():
    [out] = convert(message(), rules(source()))
    assert out.reason is None and out.tenant_id == 1 and out.source_id == "s1"
    event = out.event
    assert event["type"] == "entryUpdated" and event["data"] == ENTRY
    assert event["id"] == PROPS["messageId"]
    assert event["timestamp"] == dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.timezone.utc)
    assert event["routing_key"] == "035af82b.mymodel.e1.entryUpdated" and event["properties"]["appId"] == "string"


def test_without_type_property_the_last_routing_key_word_or_a_known_dotted_suffix_is_the_type():
    assert convert(message(type=None), rules(source()))[0].event["type"] == "entryUpdated"
    [out] = convert(message({"mail": {}}, routing_key="entrecode.de.cmd.sendMail", type=None), rules(source()))
    assert out.event["type"] == "cmd.sendMail"


def test_type_from_routing_key_ignores_the_property_and_body_field_reads_the_body():
    assert convert(message(type="entryCreated"), rules(source(type_from="routing_key")))[0].event["type"] == "entryUpdated"
    body = {**ENTRY, "meta": {"kind": "entryCreated"}}
    assert convert(message(body), rules(source(type_from="body_field", type_field="meta.kind")))[0].event["type"] == "entryCreated"
    assert "body field 'meta.kind'" in convert(message(), rules(source(type_from="body_field", type_field="meta.kind")))[0].reason


def test_an_unknown_type_takes_the_catch_all_or_is_refused_with_the_reason():
    assert convert(message(type="whatever"), rules(source(catch_all_type="custom.catchall")))[0].event["type"] == "custom.catchall"
    assert convert(message(type="whatever"), rules(source()))[0].reason == "unknown event type 'whatever' and the source has no catch-all type"


def test_no_type_at_all_is_refused():
    [out] = convert(message(routing_key="", type=None), rules(source()))
    assert out.event is None and out.reason == "no event type: no AMQP type property and an empty routing key"


@pytest.mark.parametrize(
    "body, props, reason",
    [
        (b"{not json", {}, "body is not JSON"),
        (b"\xff\xfe{}", {}, "body is not UTF-8"),
        (b"[1, 2]", {}, "body is a JSON array, not an object"),
        (b'"text"', {}, "body is a JSON string, not an object"),
        (b"true", {}, "body is a JSON boolean, not an object"),
        (b"null", {}, "body is a JSON null, not an object"),
        (b"12.5", {}, "body is a JSON number, not an object"),
        (b"NaN", {}, "body is NaN, which is not a JSON number"),
        (b"{}", {"contentType": "text/plain"}, "content type 'text/plain' is not JSON"),
        (b"{}", {"contentEncoding": "gzip"}, "content encoding 'gzip' is not supported"),
        (b'{"a": "' + b"x" * (1024 * 1024) + b'"}', {}, "over the limit of 1048576 bytes"),
    ],
)
def test_unusable_bodies_are_refused_with_their_reason(body, props, reason):
    [out] = convert(message(body, **props), rules(source()))
    assert out.event is None and reason in out.reason and out.tenant_id == 1


@pytest.mark.parametrize(
    "body, props, routing_key, reason",
    [
        # JSON escapes decode to text UTF-8 cannot encode (lone surrogates) or PostgreSQL cannot keep (NUL).
        (b'{"id": "\\ud800"}', {}, None, "body.id holds a lone surrogate (U+D800), which is not a character"),
        (b'{"a": [1, {"b": "x\\udfffy"}]}', {}, None, "body.a[1].b holds a lone surrogate (U+DFFF)"),
        (b'{"\\ud83d": 1}', {}, None, "body holds a key with a lone surrogate (U+D83D)"),
        (b'{"text": "nul \\u0000 inside"}', {}, None, "body.text holds a NUL character (\\u0000)"),
        (b'{"n": 1e400}', {}, None, "body.n is 1e400, a number too large to store"),
        (b'{"n": [-1E999]}', {}, None, "body.n[0] is -1E999, a number too large to store"),
        (b"{}", {"headers": {"x-a": "a\x00b"}}, None, "properties.headers.x-a holds a NUL character (\\u0000)"),
        (b"{}", {"headers": {"x-f": float("inf")}}, None, "properties.headers.x-f is inf, which is not a JSON number"),
        (b"{}", {}, "a.\x00.entryUpdated", "routing key holds a NUL character (\\u0000)"),
    ],
)
def test_text_the_hub_cannot_store_is_refused_at_conversion_with_the_tenant_and_where(body, props, routing_key, reason):
    msg = message(body, **props) if routing_key is None else message(body, routing_key=routing_key, **props)
    out = convert(msg, rules(source(1), source(2)))
    assert sorted(o.tenant_id for o in out) == [1, 2]
    assert all(o.event is None and reason in o.reason for o in out), out[0].reason


def test_escapes_that_decode_to_storable_text_are_kept():
    body = b'{"pair": "\\ud83d\\ude00", "e": "\\u00e9", "escaped": "\\\\u0000", "big": 1e300, "huge": 123456789012345678901234567890}'
    [out] = convert(message(body), rules(source()))
    assert out.event["data"] == {"pair": "\U0001f600", "e": "\u00e9", "escaped": "\\u0000", "big": 1e300, "huge": 123456789012345678901234567890}


def test_storable_text_replaces_only_what_cannot_be_stored():
    assert storable_text("ok \u00e9 \U0001f600") == "ok \u00e9 \U0001f600"
    assert storable_text("a\x00b\ud800c") == "a\ufffdb\ufffdc"
    assert storable_json({"k\ud800": ["\x00", 1.5, float("inf"), None, {"n": 1}]}) == {"k\ufffd": ["\ufffd", 1.5, "inf", None, {"n": 1}]}
    json.dumps(storable_json({"k\ud800": "\udfff"}), ensure_ascii=False).encode("utf-8")


# Any text, lone surrogates (category Cs) and NUL included; numbers near and past the float range.
any_text = st.text(st.characters(exclude_categories=()), max_size=8)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from _texts(child)
    elif isinstance(value, list):
        for child in value:
            yield from _texts(child)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(any_text, json_like, max_size=4), exponent=st.sampled_from(["", "e308", "e309", "E-400", "e400"]),
       header=any_text)
def test_conversion_never_raises_and_never_yields_text_the_hub_cannot_store(data, exponent, header):
    body = json.dumps({**data, "n": f"@{exponent}"}).replace('"@' + exponent + '"', "1" + exponent).encode()
    for out in convert(message(body, headers={"x-h": header}), rules(source(1), source(2))):
        assert out.tenant_id in (1, 2) and (out.event is None) != (out.reason is None)
        if out.event is not None:
            for text in _texts([out.event["data"], out.event["properties"]]):
                text.encode("utf-8")
                assert "\x00" not in text
            json.dumps(out.event["data"], allow_nan=False)


def test_content_type_may_be_absent_or_carry_a_charset():
    assert convert(message(contentType=None), rules(source()))[0].event
    assert convert(message(contentType="application/json; charset=utf-8"), rules(source()))[0].event


def test_no_matching_source_is_a_reason_without_tenant():
    [out] = convert(message(exchange="other"), rules(source()))
    assert out.tenant_id is None and "no enabled source matches exchange 'other'" in out.reason
    [out] = convert(message(), rules(source(keys=("035af82b.othermodel.#",))))
    assert out.tenant_id is None and out.reason


def test_each_tenant_with_a_matching_source_gets_the_event_once():
    out = convert(message(), rules(source(1), source(1, keys=("*.mymodel.#",)), source(2, keys=("#.entryUpdated",)), source(3, keys=("x.#",))))
    assert sorted(o.tenant_id for o in out) == [1, 2] and all(o.event for o in out)
    assert convert(message(), rules(source(1), source(2)), tenant_id=2)[0].tenant_id == 2


def test_ids_are_the_message_id_else_a_content_hash_that_a_redelivery_repeats():
    assert message_id(message()) == PROPS["messageId"]
    bare = message(messageId=None)
    assert message_id(bare) == message_id(message(messageId=None)) and message_id(bare).startswith("sha256:")
    assert message_id(bare) != message_id(message({"other": 1}, messageId=None))
    assert message_id(bare) != message_id(message(routing_key="x.entryUpdated", messageId=None))
    assert len(message_id(message(messageId="m" * 500))) <= 200


@pytest.mark.parametrize(
    "value, expected",
    [
        (1700000000, dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc)),
        (1700000000123, dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.timezone.utc)),
        (None, None), (0, None), ("string", None), (True, None), (10**30, None),
    ],
)
def test_timestamps_in_seconds_or_milliseconds_are_detected(value, expected):
    assert message_timestamp(value) == expected


def test_pika_properties_become_amqplib_names_and_json_values():
    props = SimpleNamespace(content_type="application/json", message_id="m1", type="entryCreated", app_id="a", timestamp=5,
                            delivery_mode=2, headers={"x-b": b"bytes", "x-bin": b"\xff", "n": {"deep": [1, b"2"]}})
    plain = plain_properties(props)
    assert plain == {"contentType": "application/json", "messageId": "m1", "type": "entryCreated", "appId": "a", "timestamp": 5,
                     "persistent": True, "headers": {"x-b": "bytes", "x-bin": "base64:/w==", "n": {"deep": [1, "2"]}}}
    json.dumps(plain)


# --- the catalog's typing rules (appId, no type property) --------------------------------------------------------


def typed(routing_key, body, catch_all="", **props):
    from subscriptions.catalog import builtin_definitions, type_rules

    every = frozenset(builtin_definitions())
    converted = convert(Message("publicAPI", routing_key, json.dumps(body).encode(), props),
                        Rules([source(catch_all_type=catch_all)], {1: every}, type_rules()))
    return converted[0].event["type"] if converted[0].event else converted[0].reason


def test_an_appid_rule_types_every_message_of_that_app_whatever_its_type_property():
    assert typed("publishEntries", {"commandID": "c"}, type="publishEntries", appId="ec.tasks-api") == "cmd.startTask"
    assert typed("x", {"commandID": "c"}, type="entryCreated", appId="ec.tasks-api") == "cmd.startTask"


def test_deal_push_commands_share_an_appid_and_differ_by_their_fields():
    assert typed("x", {"ticket": "t", "message": {}}, type="string", appId="deal.push") == "cmd.createPushTicket"
    assert typed("x", {"messageToken": "m"}, type="string", appId="deal.push") == "cmd.deletePushToken"


def test_untyped_builds_are_typed_by_their_routing_key_form_and_fields():
    assert typed("ios", {"result": "success", "buildID": "b"}) == "buildFinished"
    assert typed("ios", {"uuid": "u", "buildID": "b", "eventType": "e"}) == "buildEvent"
    assert typed("web", {"platform": "web"}) == "cmd.startBuild"


def test_a_source_catch_all_beats_a_guess_from_the_routing_key_form_alone_but_not_a_build_shaped_body():
    # Another system's untyped message on a one-word key is that source's catch-all, not an entrecode build start.
    assert typed("web", {"platform": "web"}, catch_all="custom.catchall") == "custom.catchall"
    assert typed("ios", {"result": "success", "buildID": "b"}, catch_all="custom.catchall") == "buildFinished"


def test_shape_rules_never_override_a_type_the_message_names():
    assert typed("ios", {"result": "success", "buildID": "b"}, type="entryCreated") == "entryCreated"
    assert typed("a.b", {"result": "x", "buildID": "b"}, type="nothing").startswith("unknown event type 'nothing'")
    assert typed("a.somethingElse", {}).startswith("unknown event type 'somethingElse'")  # not one word: no build


def test_the_queue_is_bound_with_each_binding_key_and_once_to_a_fanout_exchange():
    topic = SourceRule(id="s1", tenant_id=1, exchange="publicAPI", exchange_type="topic", binding_keys=("a.#", "b.*"))
    again = SourceRule(id="s2", tenant_id=2, exchange="publicAPI", exchange_type="topic", binding_keys=("a.#",))
    fanout = SourceRule(id="s3", tenant_id=1, exchange="news", exchange_type="fanout", binding_keys=("ignored",))
    direct = SourceRule(id="s4", tenant_id=3, exchange="orders", exchange_type="direct", binding_keys=("paid",))
    assert Rules([topic, again, fanout, direct], {}).bindings() == {
        ("publicAPI", "topic", "a.#"), ("publicAPI", "topic", "b.*"), ("news", "fanout", ""), ("orders", "direct", "paid"),
    }


def test_direct_and_fanout_sources_follow_their_exchange_type():
    direct = SourceRule(id="d", tenant_id=1, exchange="orders", exchange_type="direct", binding_keys=("paid", "a.#"))
    fanout = SourceRule(id="f", tenant_id=2, exchange="news", exchange_type="fanout", binding_keys=("x",))
    assert direct.matches("orders", "paid") and not direct.matches("orders", "paid.late")
    assert direct.matches("orders", "a.#") and not direct.matches("orders", "a.b")  # literal, no wildcards
    assert fanout.matches("news", "anything.at.all") and fanout.matches("news", "")
    assert not fanout.matches("orders", "x") and not direct.matches("news", "paid")


def test_a_known_type_of_up_to_four_words_is_read_from_the_end_of_the_routing_key():
    known = KNOWN | {"a.b.c.d", "v.w.x.y.z"}
    for routing_key, expected in [
        ("cmd.sendMail", "cmd.sendMail"),  # the whole key
        ("entrecode.de.cmd.sendMail", "cmd.sendMail"),
        ("p.a.b.c.d", "a.b.c.d"),
        ("v.w.x.y.z", "z"),  # five words: longer than any suffix looked at, so the last word
    ]:
        [out] = convert(message({"k": 1}, routing_key=routing_key, type=None), rules(source(), known=known | {"z"}))
        assert out.event["type"] == expected, routing_key


def test_a_property_that_is_only_whitespace_leaves_the_type_to_the_routing_key():
    assert convert(message(type="   "), rules(source()))[0].event["type"] == "entryUpdated"
    assert convert(message(type=" entryCreated "), rules(source()))[0].event["type"] == "entryCreated"


def test_pika_delivery_mode_becomes_persistent_true_or_false_and_absent_when_unset():
    assert plain_properties(SimpleNamespace(delivery_mode=1)) == {"persistent": False}
    assert plain_properties(SimpleNamespace(delivery_mode=2)) == {"persistent": True}
    assert plain_properties(SimpleNamespace()) == {}


def test_amqp_field_values_become_json_values():
    stamp = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    table = {"d": Decimal("1.50"), "t": stamp, "b": True, "f": 1.5, "n": None, 5: (1, "x"), "day": dt.date(2024, 5, 1)}
    assert json_safe(table) == {"d": "1.50", "t": "2024-05-01T12:00:00+00:00", "b": True, "f": 1.5, "n": None, "5": [1, "x"],
                                "day": "2024-05-01"}


@pytest.mark.parametrize("container", ["list", "table"])
def test_field_tables_are_kept_twenty_levels_deep_and_cut_below(container):
    def nest(levels):
        value = "leaf"
        for _ in range(levels):
            value = [value] if container == "list" else {"k": value}
        return value

    def leaf(value):
        while isinstance(value, (list, dict)):
            value = value[0] if isinstance(value, list) else value["k"]
        return value

    assert leaf(json_safe(nest(20))) == "leaf"
    assert leaf(json_safe(nest(21))) is None


def test_a_message_id_of_up_to_200_characters_is_the_event_id_and_a_longer_one_its_hash():
    assert message_id(message(messageId=" " + "m" * 200 + " ")) == "m" * 200
    assert message_id(message(messageId="m" * 201)) == "sha256:91c7bc42a3b0d4b9d7da55555744653dce2cc5aeacd44a046889306964a558ff"
    assert message_id(message(messageId="   ")).startswith("sha256:")  # blank: the content hash


def test_the_content_hash_is_stable_so_a_redelivery_after_an_upgrade_is_still_the_same_event():
    # sha256 over exchange, routing key and body, each preceded by its length as 8 bytes, big-endian.
    bare = Message("publicAPI", "a.b.entryCreated", b'{"id": 1}')
    assert message_id(bare) == "sha256:bdeb285be52452054882d4974c12ef1562cb8fe836a4cef9fac9fb1d9e2913c3"


def test_a_datetime_timestamp_keeps_its_zone_and_a_naive_one_is_utc():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert message_timestamp(dt.datetime(2024, 5, 1, 12, 0, tzinfo=plus_two)).utcoffset() == dt.timedelta(hours=2)
    assert message_timestamp(dt.datetime(2024, 5, 1, 12, 0)) == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_numbers_below_10_to_the_11_are_seconds_and_from_there_milliseconds():
    utc = dt.timezone.utc
    assert message_timestamp(1) == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=utc)
    assert message_timestamp(10**11 - 1) == dt.datetime.fromtimestamp(10**11 - 1, tz=utc)  # the year 5138
    assert message_timestamp(10**11) == dt.datetime(1973, 3, 3, 9, 46, 40, tzinfo=utc)
    assert message_timestamp(-5) is None


@pytest.mark.parametrize("props", [
    {"contentType": "application/vnd.api+json"}, {"contentType": "Application/JSON"},
    {"contentEncoding": "identity"}, {"contentEncoding": "UTF-8"}, {"contentEncoding": "utf8"},
])
def test_json_media_types_and_identity_or_utf8_encodings_are_read(props):
    assert convert(message(**props), rules(source()))[0].event["data"] == ENTRY


@pytest.mark.parametrize("body, props, reason", [
    (b"\xff{}", {}, "body is not UTF-8 (byte 0)"),
    (b"[" * 101 + b"]" * 101, {}, "body is JSON nested too deeply (more than 100 levels)"),
    (b"{}", {"contentType": "text/plain; charset=utf-8"}, "content type 'text/plain; charset=utf-8' is not JSON (application/json)"),
    (b"{}", {"contentEncoding": "gzip"}, "content encoding 'gzip' is not supported"),
    (b'{"a": 1}', {}, "body is 8 bytes, over the limit of 7 bytes"),
])
def test_the_dead_letter_reason_says_exactly_what_is_wrong_with_the_body(body, props, reason):
    [out] = convert(message(body, **props), rules(source()), body_limit=7 if body == b'{"a": 1}' else 1024 * 1024)
    assert out.reason == reason and out.tenant_id == 1 and out.source_id == "s1"


def test_a_body_of_exactly_the_limit_is_read():
    assert convert(message(b'{"a": 1}'), rules(source()), body_limit=8)[0].event["data"] == {"a": 1}


@pytest.mark.parametrize("kind", ["", 5, None])
def test_a_body_field_without_a_type_is_refused_even_with_a_catch_all(kind):
    body_field = source(type_from="body_field", type_field="kind", catch_all_type="custom.catchall")
    [out] = convert(message({"kind": kind}), rules(body_field))
    assert out.reason == "body field 'kind' holds no event type" and out.source_id == "s1"


def test_an_unknown_type_is_named_in_the_reason_cut_to_200_characters():
    [out] = convert(message(type="t" * 300), rules(source()))
    assert out.reason == f"unknown event type '{'t' * 200}' and the source has no catch-all type"


def test_each_tenant_gets_its_own_outcome_and_a_tenant_without_known_types_its_catch_all():
    refused, caught = source(1), source(2, catch_all_type="custom.catchall")
    out = convert(message(type="whatever"), Rules([refused, caught], {1: KNOWN}))  # tenant 2 knows no types at all
    assert [(o.tenant_id, o.source_id, o.reason) for o in out] == [
        (1, "s1", "unknown event type 'whatever' and the source has no catch-all type"), (2, "s2", None)]
    assert out[1].event == {
        "type": "custom.catchall", "data": ENTRY, "id": PROPS["messageId"],
        "timestamp": dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.timezone.utc), "origin": "broker",
        "source_id": "s2", "routing_key": "035af82b.mymodel.e1.entryUpdated", "properties": {**PROPS, "type": "whatever"},
    }


def test_converting_for_one_tenant_gives_that_tenant_its_event_or_says_no_source_matches():
    [only] = convert(message(), rules(source(1), source(2)), tenant_id=2)
    assert only.tenant_id == 2 and only.event["source_id"] == "s2"
    [none] = convert(message(), rules(source(1), source(2)), tenant_id=3)
    assert none.tenant_id == 3 and none.event is None and none.reason.startswith("no enabled source matches")


# --- a pika delivery as a Message -----------------------------------------------------------------------------------


def test_a_pika_delivery_becomes_a_message_with_its_body_and_amqplib_properties():
    method = SimpleNamespace(exchange="publicAPI", routing_key="035af82b.mymodel.e1.entryCreated", delivery_tag=7)
    props = SimpleNamespace(type="entryCreated", message_id="m1", delivery_mode=2)
    assert message_from_delivery(method, props, b'{"a":1}') == Message(
        "publicAPI", "035af82b.mymodel.e1.entryCreated", b'{"a":1}', {"type": "entryCreated", "messageId": "m1", "persistent": True})


def test_names_pika_hands_over_as_bytes_become_text_and_bytes_that_are_not_utf8_are_replaced():
    method = SimpleNamespace(exchange="caf\u00e9".encode(), routing_key=b"a.\xff.entryCreated")
    message = message_from_delivery(method, SimpleNamespace(), b"{}")
    assert message == Message("caf\u00e9", "a.\ufffd.entryCreated", b"{}", {})
    assert convert(message, rules(source(exchange="caf\u00e9", keys=("a.*.entryCreated",))))[0].event["type"] == "entryCreated"


# --- what the live monitor shows -----------------------------------------------------------------------------------


def builtin_type_rules():
    from subscriptions.catalog import type_rules

    return type_rules()


def builtin_types():
    from subscriptions.catalog import builtin_definitions

    return frozenset(builtin_definitions())


def test_the_monitor_shows_the_type_the_dispatcher_records():
    assert shown_type(source(), message(), KNOWN) == "entryUpdated"
    assert shown_type(source(catch_all_type="custom.catchall"), message(type="whatever"), KNOWN) == "custom.catchall"
    assert shown_type(source(type_from="routing_key"), message(type="entryCreated"), KNOWN) == "entryUpdated"
    body_field = source(type_from="body_field", type_field="meta.kind")
    assert shown_type(body_field, message({"meta": {"kind": "entryCreated"}}), KNOWN) == "entryCreated"


def test_for_a_message_the_dispatcher_would_dead_letter_the_monitor_shows_the_type_it_names():
    assert shown_type(source(), message(type="whatever"), KNOWN) == "whatever"
    body_field = source(type_from="body_field", type_field="kind", catch_all_type="custom.catchall")
    assert shown_type(body_field, message({"kind": "unknown.kind"}), KNOWN) == "custom.catchall"
    assert shown_type(source(type_from="body_field", type_field="kind"), message({"kind": "unknown.kind"}), KNOWN) == "unknown.kind"
    assert shown_type(source(type_from="body_field", type_field="kind"), message({"other": 1}), KNOWN) is None
    assert shown_type(source(), message(routing_key="", type=None), KNOWN) is None
    by_key = source(type_from="routing_key")
    assert shown_type(by_key, message(routing_key="ec.cmd.unknownThing"), KNOWN) == "unknownThing"


def test_the_body_is_read_only_when_the_type_may_come_from_it_and_only_up_to_the_limit():
    not_json = message(b"not json", type="entryCreated")
    assert shown_type(source(), not_json, KNOWN) == "entryCreated"  # the body is not needed: not read
    assert shown_type(source(), not_json, KNOWN, type_rules=builtin_type_rules()) == "entryCreated"
    body_field = source(type_from="body_field", type_field="kind")
    assert shown_type(body_field, message(b"not json"), KNOWN) is None  # the type is in a body that cannot be read
    big = message({"kind": "entryCreated", "pad": "x" * 100})
    assert shown_type(body_field, big, KNOWN, body_limit=len(big.body)) == "entryCreated"
    assert shown_type(body_field, big, KNOWN, body_limit=len(big.body) - 1) is None


def test_the_monitor_types_untyped_messages_by_the_catalogs_rules_on_their_body_fields():
    every = builtin_types()
    build = Message("publicAPI", "ios", json.dumps({"result": "success", "buildID": "b"}).encode(), {})
    assert shown_type(source(), build, every, type_rules=builtin_type_rules()) == "buildFinished"
    assert shown_type(source(), build, every) == "ios"  # without the catalog's rules: only the routing key's word
    big = Message("publicAPI", "ios", json.dumps({"result": "success", "buildID": "b", "pad": "x" * 100}).encode(), {})
    assert shown_type(source(), big, every, body_limit=10, type_rules=builtin_type_rules()) != "buildFinished"


def test_a_rule_for_untyped_messages_takes_only_messages_whose_type_property_is_absent_or_empty():
    rule = TypeRule("buildFinished", without_type=True, body_fields=("result",))
    data = {"result": "success"}
    assert rule.matches(Message("x", "ios", b"", {}), data)
    assert rule.matches(Message("x", "ios", b"", {"type": None}), data)
    assert rule.matches(Message("x", "ios", b"", {"type": ""}), data)
    assert not rule.matches(Message("x", "ios", b"", {"type": "buildFinished"}), data)
    assert not rule.matches(Message("x", "ios", b"", {}), {"other": 1})
    assert TypeRule("buildFinished", body_fields=("result",)).matches(Message("x", "ios", b"", {"type": "t"}), data)


def test_rules_with_an_appid_come_first_then_those_with_more_body_fields_whatever_the_catalogs_order():
    bare = TypeRule("cmd.startBuild", without_type=True, routing_key_form="{platformType}")
    build = TypeRule("buildFinished", without_type=True, body_fields=("result", "buildID"))
    event = TypeRule("buildEvent", without_type=True, body_fields=("uuid", "buildID", "eventType"))
    app = TypeRule("cmd.startTask", app_id="ec.tasks-api")
    assert by_precedence([bare, build, event, app]) == (app, event, build, bare)
    assert by_precedence([app, bare, event, build]) == (app, event, build, bare)
    assert Rules([], {}, (bare, app)).type_rules == (app, bare)

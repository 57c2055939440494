"""The routing index: the same endpoints as evaluating every endpoint's patterns and filter, only faster."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unittest import mock

from subscriptions.core import matching
from subscriptions.core.conditions import Filter, Undecided, compile_filter, scalar_key
from subscriptions.core.matching import Route, RoutingIndex, pattern_matches, patterns_match
from subscriptions.core.payloads import compile_custom_payload

TYPES = ["product.created", "product.updated", "order.created", "entryCreated"]
PATTERNS = TYPES + ["product.*", "*", "order.*", "entry*"]
VALUES = ["a", "b", "c", 1, 2, True, None]


def route(i, patterns, spec=None, payload=None):
    return Route(i, f"https://hooks.example.com/{i}", tuple(patterns), compile_filter(spec), compile_custom_payload(payload) if payload else None)


def scan(routes, subscriptions, envelope):
    if envelope["type"] not in subscriptions:
        return set()
    return {r.endpoint_id for r in routes if patterns_match(r.patterns, envelope["type"]) and r.filter.matches(envelope)}


@pytest.mark.parametrize(
    "pattern, event_type, expected",
    [("product.*", "product.created", True), ("product.*", "productx", False), ("*", "anything", True),
     ("entry*", "entryCreated", True), ("*.created", "order.created", True), ("product.created", "product.created", True),
     ("product.created", "product.updated", False), ("cmd.*", "cmd.sendMail", True)],
)
def test_patterns(pattern, event_type, expected):
    assert pattern_matches(pattern, event_type) is expected


def test_top_level_equalities_are_exposed_for_indexing_and_nested_ones_are_not():
    f = compile_filter({"storeId": "s1", "data.kind": ["a", "b"], "data.n": {"$eq": 3}, "data.m": {"$in": [1, True]},
                        "data.price": {"$gt": 1}, "$or": [{"data.x": 1}, {"data.y": 2}], "data.obj": {"k": 1}})
    assert f.equalities == {
        "data.storeId": {scalar_key("s1")}, "data.kind": {scalar_key("a"), scalar_key("b")},
        "data.n": {scalar_key(3)}, "data.m": {scalar_key(1), scalar_key(True)},
    }
    assert scalar_key(1) == scalar_key(1.0) and scalar_key(1) != scalar_key(True) and scalar_key([1]) is None


def test_unsubscribed_types_reach_nothing_and_subscribed_ones_reach_their_patterns():
    routes = [route(1, ["product.*"]), route(2, ["order.created"]), route(3, ["*"])]
    index = RoutingIndex(routes, {"product.created": ()})
    assert {r.endpoint_id for r in index.candidates("product.created")} == {1, 3}
    assert index.candidates("order.created") == ()


def test_bucketed_candidates_still_evaluate_the_whole_filter():
    routes = [route(i, ["product.created"], {"data.store": f"s{i % 3}", "data.price": {"$gt": 10}}) for i in range(30)]
    index = RoutingIndex(routes, {"product.created": ("secret",)})
    envelope = {"id": "e", "type": "product.created", "timestamp": "t", "tenant": "acme", "data": {"store": "s1", "price": 11, "secret": "x"}}
    matched = index.deliveries_for(envelope)
    assert {r.endpoint_id for r, _ in matched} == {i for i in range(30) if i % 3 == 1}
    assert all("secret" not in json.loads(body)["data"] for _, body in matched)
    cheap = {**envelope, "data": {"store": "s1", "price": 5}}
    assert index.deliveries_for(cheap) == []


conditions = st.one_of(
    st.sampled_from(VALUES),
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
    st.builds(lambda v: {"$eq": v}, st.sampled_from(VALUES)),
    st.builds(lambda v: {"$in": v}, st.lists(st.sampled_from(VALUES), min_size=1, max_size=3)),
    st.builds(lambda v: {"$ne": v}, st.sampled_from(VALUES)),
    st.just({"$exists": False}),
)
filters = st.one_of(st.none(), st.dictionaries(st.sampled_from(["data.k", "data.j", "k", "type"]), conditions, max_size=3))
endpoints = st.lists(st.tuples(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2), filters), min_size=0, max_size=40)
events = st.lists(
    st.builds(
        lambda t, data: {"id": "e", "type": t, "timestamp": "t", "tenant": "acme", "data": data},
        st.sampled_from(TYPES),
        st.dictionaries(st.sampled_from(["k", "j"]), st.one_of(st.sampled_from(VALUES), st.lists(st.sampled_from(VALUES), max_size=2))),
    ),
    min_size=1, max_size=10,
)


@settings(max_examples=300, deadline=None)
@given(endpoints, events, st.sets(st.sampled_from(TYPES)), st.sampled_from([1, 2, matching.MIN_CANDIDATES_TO_BUCKET]))
def test_the_index_picks_exactly_the_endpoints_a_full_scan_picks(specs, envelopes, subscribed, bucket_from):
    with mock.patch.object(matching, "MIN_CANDIDATES_TO_BUCKET", bucket_from):
        check_against_scan(specs, envelopes, subscribed)


def check_against_scan(specs, envelopes, subscribed):
    routes = [route(i, patterns, spec) for i, (patterns, spec) in enumerate(specs)]
    subscriptions = {t: () for t in subscribed}
    index = RoutingIndex(routes, subscriptions)
    for envelope in envelopes:
        got = [r.endpoint_id for r, _ in index.deliveries_for(envelope)]
        assert len(got) == len(set(got)), "an endpoint must get an event once"
        assert set(got) == scan(routes, subscriptions, envelope)


def counting_route(i, calls, pins=None, decide=True, payload=None):
    """A route whose filter records each evaluation and holds (True), fails (False) or runs out of time (None);
    `pins` ({path: value}) is what it tells the index it needs."""

    def test(envelope):
        calls.append(i)
        if decide is None:
            raise Undecided
        return decide

    equalities = {path: frozenset({scalar_key(value)}) for path, value in (pins or {}).items()}
    payload = compile_custom_payload(payload) if payload else None
    return Route(i, f"https://hooks.example.com/{i}", ("product.created",), Filter(test, equalities), payload)


def test_with_many_endpoints_pinning_a_value_an_event_is_tested_only_against_its_bucket_and_the_unpinned():
    calls = []
    routes = [counting_route(i, calls, {"data.store": f"s{i}"}) for i in range(10)]
    routes += [counting_route(20, calls, {"data.zone": "z"}), counting_route(21, calls, {"data.zone": "z"})]  # fewer pin zone
    routes += [counting_route(30, calls)]
    index = RoutingIndex(routes, {"product.created": ()})
    for data, tested in [
        ({"store": "s3"}, [3, 20, 21, 30]),
        ({"store": "s99"}, [20, 21, 30]),  # no bucket for this value
        ({"store": 3}, [20, 21, 30]),  # a number is not the string "s3"
        ({}, [20, 21, 30]),  # nothing at the path
    ]:
        calls.clear()
        routing = index.route({"id": "e", "type": "product.created", "data": data})
        assert sorted(calls) == tested, data
        assert sorted(r.endpoint_id for r, _ in routing.deliveries) == tested


def test_with_few_endpoints_every_filter_is_evaluated():
    calls = []
    index = RoutingIndex([counting_route(i, calls, {"data.store": f"s{i}"}) for i in range(3)], {"product.created": ()})
    index.route({"id": "e", "type": "product.created", "data": {"store": "s1"}})
    assert sorted(calls) == [0, 1, 2]


def test_the_body_is_compact_json_keeping_non_ascii_text_with_the_payload_applied():
    routes = [route(1, ["product.created"]), route(2, ["product.created"], payload={"who": "/data/name", "id": "/id"})]
    index = RoutingIndex(routes, {"product.created": ("secret",)})
    envelope = {"id": "e1", "type": "product.created", "data": {"name": "Zoë", "secret": "s"}}
    bodies = {r.endpoint_id: body for r, body in index.deliveries_for(envelope)}
    assert bodies == {1: '{"id":"e1","type":"product.created","data":{"name":"Zoë"}}', 2: '{"who":"Zoë","id":"e1"}'}


def test_an_endpoint_whose_filter_the_budget_left_undecided_is_reported_with_its_shaped_body():
    calls = []
    undecided = counting_route(1, calls, decide=None)
    shaped = counting_route(2, calls, decide=None, payload={"name": "/data/name"})
    index = RoutingIndex([undecided, shaped, counting_route(3, calls, decide=False)], {"product.created": ("secret",)})
    routing = index.route({"id": "e1", "type": "product.created", "data": {"name": "Zoë", "secret": "s"}})
    assert routing.deliveries == []
    assert routing.undecided == [(undecided, '{"id":"e1","type":"product.created","data":{"name":"Zoë"}}'), (shaped, '{"name":"Zoë"}')]


def test_an_event_no_endpoint_wants_routes_nowhere():
    index = RoutingIndex([route(1, ["order.*"])], {"product.created": (), "order.created": ()})
    assert index.route({"id": "e", "type": "product.created", "data": {}}) == ([], [])
    assert index.route({"id": "e", "type": "unsubscribed", "data": {}}) == ([], [])


@pytest.mark.parametrize("pinned, unpinned, tested", [
    (matching.MIN_CANDIDATES_TO_BUCKET, 0, 1),  # enough endpoints pin the path: only the event's bucket
    (matching.MIN_CANDIDATES_TO_BUCKET - 1, 0, matching.MIN_CANDIDATES_TO_BUCKET - 1),  # too few candidates
    (matching.MIN_CANDIDATES_TO_BUCKET - 1, 1, matching.MIN_CANDIDATES_TO_BUCKET),  # enough candidates, too few pin
])
def test_bucketing_starts_at_min_candidates_to_bucket_endpoints_pinning_one_path(pinned, unpinned, tested):
    calls = []
    routes = [counting_route(i, calls, {"data.store": f"s{i}"}) for i in range(pinned)]
    routes += [counting_route(100 + i, calls) for i in range(unpinned)]
    RoutingIndex(routes, {"product.created": ()}).route({"id": "e", "type": "product.created", "data": {"store": "s0"}})
    assert len(calls) == tested


def test_the_candidates_of_a_type_are_found_once_and_then_read_from_the_index():
    index = RoutingIndex([route(1, ["product.*"]), route(2, ["product.created"])], {"product.created": ()})
    assert index.candidates("product.created") is index.candidates("product.created")


# --- explain: route()'s decision in words, as the preview shows it -----------------------------------------------

EVENT = {"id": "e1", "type": "product.created", "timestamp": "2026-01-02T03:04:05Z", "tenant": "acme",
         "data": {"name": "Zoë", "secret": "s", "price": 5}}
SUBSCRIBED = {"product.created": ("secret",)}
UNDECIDED_REASON = ("The eventFilter could not be decided within the time one event may spend on matching; "
                    "the delivery would be recorded as failed, not sent.")


def test_explain_gives_a_delivered_endpoint_the_very_body_route_sends_and_no_reason():
    source = "/eventhub/acme/sources/7"
    chosen = Route(1, "https://hooks.example.com/1", ("product.*",), compile_filter({"data.price": 5}), None, "cloudevents")
    other = route(2, ["product.created"])
    index = RoutingIndex([other, chosen], SUBSCRIBED)
    verdict = index.explain(chosen, EVENT, source=source)
    assert verdict == matching.Verdict(dict(index.route(EVENT, source=source).deliveries)[chosen], [], False)
    assert verdict.reasons == [] and verdict.undecided is False
    body = json.loads(verdict.body)
    assert body["source"] == source and body["data"] == {"name": "Zoë", "price": 5}  # the source given; excluded applied
    assert json.loads(index.explain(other, EVENT).body)["data"] == {"name": "Zoë", "price": 5}


def test_explain_names_each_rule_an_endpoint_fails_in_order():
    picky = route(1, ["order.*", "user.created"], {"data.price": 6})
    index = RoutingIndex([picky], {"order.created": ()})
    assert index.explain(picky, EVENT).reasons == [
        "The tenant is not subscribed to 'product.created'.",
        "None of the endpoint's events (order.*, user.created) selects 'product.created'.",
        "The eventFilter does not match this event.",
    ]
    assert RoutingIndex([picky], SUBSCRIBED).explain(picky, EVENT).reasons == [
        "None of the endpoint's events (order.*, user.created) selects 'product.created'.",
        "The eventFilter does not match this event.",
    ]
    unsubscribed = route(2, ["product.*"])
    assert RoutingIndex([unsubscribed], {}).explain(unsubscribed, EVENT).reasons == [
        "The tenant is not subscribed to 'product.created'."]
    missed = route(3, ["product.*"], {"data.price": {"$gt": 5}})
    verdict = RoutingIndex([missed], SUBSCRIBED).explain(missed, EVENT)
    assert verdict.reasons == ["The eventFilter does not match this event."] and verdict.undecided is False
    negated = route(4, ["product.*"], {"$not": {"data.price": 5}})  # judged on this event, not on an empty one
    assert RoutingIndex([negated], SUBSCRIBED).explain(negated, EVENT).reasons == ["The eventFilter does not match this event."]


def test_explain_shapes_the_body_with_the_subscriptions_excluded_fields_or_the_given_ones_when_not_subscribed():
    ignored = route(1, ["order.*"])
    subscribed = RoutingIndex([ignored], SUBSCRIBED).explain(ignored, EVENT, excluded=("name",))
    assert json.loads(subscribed.body)["data"] == {"name": "Zoë", "price": 5}  # the subscription's own
    unsubscribed = RoutingIndex([ignored], {}).explain(ignored, EVENT, excluded=("name",))
    assert json.loads(unsubscribed.body)["data"] == {"secret": "s", "price": 5}  # what it would be once subscribed
    assert json.loads(RoutingIndex([ignored], {}).explain(ignored, EVENT).body)["data"] == EVENT["data"]
    cloud = Route(2, "https://hooks.example.com/2", ("order.*",), compile_filter(None), None, "cloudevents")
    body = json.loads(RoutingIndex([cloud], SUBSCRIBED).explain(cloud, EVENT, source="/eventhub/acme/test").body)
    assert body["source"] == "/eventhub/acme/test"  # the body it would get, from the way in asked about


def test_explain_reports_an_endpoint_route_left_undecided_as_recorded_failed_not_sent():
    calls = []
    undecided = counting_route(1, calls, decide=None, payload={"n": "/data/name", "s": "/data/secret"})
    index = RoutingIndex([undecided, counting_route(2, calls)], SUBSCRIBED)
    verdict = index.explain(undecided, EVENT)
    assert verdict == matching.Verdict('{"n":"Zoë","s":null}', [UNDECIDED_REASON], True)
    assert calls.count(1) == 1  # route()'s verdict is taken, not a second evaluation


def test_a_filter_route_decided_but_explain_could_not_decide_again_is_undecided_not_a_miss():
    answers = iter([False])

    def test(envelope):
        for answer in answers:  # the first evaluation (route()) decides; the second runs out of time
            return answer
        raise Undecided

    flaky = Route(1, "https://hooks.example.com/1", ("product.created",), Filter(test, {}), None)
    verdict = RoutingIndex([flaky], SUBSCRIBED).explain(flaky, EVENT)
    assert verdict.reasons == ["The eventFilter could not be decided within the time one event may spend on matching."]
    assert verdict.undecided is False


def test_explain_never_claims_a_match_for_an_endpoint_route_did_not_select():
    indexed = route(1, ["product.*"])
    stranger = route(1, ["product.*"])  # equal but not the index's own: route() never returns it
    verdict = RoutingIndex([indexed], SUBSCRIBED).explain(stranger, EVENT)
    assert verdict.reasons == ["The routing rules do not select this endpoint for this event."]


def test_explain_and_route_share_the_budget_they_are_given():
    slow = route(1, ["product.*"], {"data.name": {"$regex": "^(a+)+$"}})
    index = RoutingIndex([slow], SUBSCRIBED)
    event = {**EVENT, "data": {"name": "a" * 40 + "!"}}
    verdict = index.explain(slow, event, budget=0.0)
    assert verdict.undecided is True and verdict.reasons == [UNDECIDED_REASON]
    assert index.explain(slow, {**EVENT, "data": {"name": "aaa"}}, budget=5).reasons == []


def test_undecided_endpoints_get_the_body_of_their_format_from_the_way_in_too():
    def undecided(envelope):
        raise Undecided

    cloud = Route(1, "https://hooks.example.com/1", ("product.*",), Filter(undecided, {}), None, "cloudevents")
    routing = RoutingIndex([cloud], SUBSCRIBED).route(EVENT, source="/eventhub/acme/test")
    [(found, body)] = routing.undecided
    assert found is cloud and json.loads(body)["source"] == "/eventhub/acme/test"
    assert json.loads(body)["data"] == {"name": "Zoë", "price": 5} and json.loads(body)["specversion"] == "1.0"


@pytest.mark.parametrize("own_first", [True, False])
def test_an_endpoints_own_excluded_fields_are_kept_out_of_its_body_whichever_endpoint_is_shaped_first(own_first):
    """The bodies of one event are shared between endpoints that would get the same one; an endpoint that excludes a
    field of its own must never get the body of one that does not (the field would leak), nor give it its own."""
    own = Route(1, "https://a.example.com/", ("product.created",), compile_filter(None), None, excluded=("secret",))
    plain = route(2, ["product.created"])
    index = RoutingIndex([own, plain] if own_first else [plain, own], {"product.created": ()})
    envelope = {"id": "e1", "type": "product.created", "data": {"secret": "s3", "ok": 1}}
    bodies = {r.endpoint_id: json.loads(body)["data"] for r, body in index.deliveries_for(envelope)}
    assert bodies == {1: {"ok": 1}, 2: {"secret": "s3", "ok": 1}}


def test_endpoints_with_equal_custom_payloads_share_one_shaped_body_and_different_ones_do_not():
    spec = {"Id": "/data/id", "meta": {"type": "/type"}}
    routes = [route(1, ["product.created"], payload=spec), route(2, ["product.created"], payload=dict(spec)),
              route(3, ["product.created"], payload={"meta": {"type": "/type"}, "Id": "/data/id"})]  # other key order
    index = RoutingIndex(routes, {"product.created": ()})
    with mock.patch.object(matching, "shape_body", wraps=matching.shape_body) as shaped:
        bodies = {r.endpoint_id: body for r, body in index.deliveries_for({"id": "e", "type": "product.created", "data": {"id": "p"}})}
    assert shaped.call_count == 2  # compiled three times, two distinct specs
    assert bodies[1] == bodies[2] == '{"Id":"p","meta":{"type":"product.created"}}'
    assert bodies[3] == '{"meta":{"type":"product.created"},"Id":"p"}'

"""A source's bindings as the dispatcher matches them (core/amqp.py): one joined expression per source must say what
AMQP's rule says for each binding key alone (routes_by_one_key), for every exchange type and every key form."""

import itertools
import uuid

import pytest

from subscriptions.core.amqp import Rules, SourceRule, topic_matches

KEY_SETS = [
    ("035af82b.mymodel.*.*",),
    ("a.b", "a.*.c", "x.#"),
    ("*.created", "#.deleted"),
    ("#",),
    ("a.#.z", "a"),
    ("special(.)chars+?", "dots..twice"),
]
ROUTING_KEYS = ["", "a", "a.b", "a.b.c", "a.x.c", "a.z", "a.b.y.z", "x", "x.y.z", "p.created", "p.q.created",
                "q.deleted", "deleted", "035af82b.mymodel.e1.entryCreated", "035af82b.mymodel.e1", "special(.)chars+?",
                "dots..twice", "specialXchars", "a\nb", "é.b"]


def routes_by_one_key(exchange_type, binding_key, routing_key):
    """AMQP 0-9-1, one binding: a fanout exchange ignores the key, a direct one needs it equal, a topic one matches it
    word by word (topic_matches, which the live monitor's filter uses too)."""
    if exchange_type == "fanout":
        return True
    if exchange_type == "direct":
        return binding_key == routing_key
    return topic_matches(binding_key, routing_key)


@pytest.mark.parametrize("exchange_type", ["topic", "direct", "fanout"])
@pytest.mark.parametrize("keys", KEY_SETS)
def test_a_source_matches_a_routing_key_when_one_of_its_binding_keys_does(exchange_type, keys):
    rule = SourceRule(uuid.uuid4(), 1, "ex", exchange_type, keys)
    for routing_key in ROUTING_KEYS:
        expected = any(routes_by_one_key(exchange_type, key, routing_key) for key in keys)
        assert rule.matches("ex", routing_key) is expected, (exchange_type, keys, routing_key)
        assert rule.matches("other", routing_key) is False


def test_each_tenant_gets_its_first_matching_source_only():
    first, second, other = (SourceRule(uuid.uuid4(), tenant, "ex", "topic", keys)
                            for tenant, keys in ((1, ("a.*",)), (1, ("#",)), (2, ("a.b",))))
    rules = Rules([first, second, other], {})
    assert rules.matching_sources("ex", "a.b") == [first, other]
    assert rules.matching_sources("ex", "z") == [second]
    assert rules.matching_sources("elsewhere", "a.b") == []


def test_two_sources_with_the_same_fields_are_equal():
    made = [SourceRule("id", 1, "ex", "topic", ("a.*", "b")) for _ in range(2)]
    assert made[0] == made[1] and len(set(itertools.chain(made))) == 1

"""Emporix's JsonPath filters as eventFilters: each supported form translates and then holds exactly where Jayway's
predicate holds on the payload; every other form is refused saying what is supported."""

import pytest

from subscriptions.core.conditions import compile_filter
from subscriptions.emporix.jsonpath import JsonPathError, translate


def holds(jsonpath, data):
    return compile_filter(translate(jsonpath)).matches({"id": "e1", "type": "product.created", "data": data})


@pytest.mark.parametrize(
    "jsonpath, expected",
    [
        ("$[?(@.code == 'abc')]", {"data.code": {"$eq": "abc"}}),
        ('$[?(@.code == "abc")]', {"data.code": {"$eq": "abc"}}),
        ("$[?(@.total.amount > 100)]", {"data.total.amount": {"$gt": 100}}),
        ("$[?(100 <= @.total.amount)]", {"data.total.amount": {"$gte": 100}}),
        ("$[?(@.status != 'NEW')]", {"data.status": {"$exists": True, "$ne": "NEW"}}),
        ("$[?(@.status in ['NEW', 'OPEN'])]", {"data.status": {"$in": ["NEW", "OPEN"]}}),
        ("$[?(@.code)]", {"data.code": {"$exists": True}}),
        ("$[?(!@.code)]", {"data.code": {"$exists": False}}),
        ("$[?(@.items[0].sku == 'x')]", {"data.items.0.sku": {"$eq": "x"}}),
        ("$[?(@['type'] == null)]", {"data.type": {"$eq": None}}),
        ("$[?(@.a == 1 && (@.b == true || !(@.c < 2.5)))]",
         {"$and": [{"data.a": {"$eq": 1}}, {"$or": [{"data.b": {"$eq": True}}, {"$not": {"data.c": {"$lt": 2.5}}}]}]}),
        ("", None),
        (None, None),
    ],
)
def test_supported_forms_translate(jsonpath, expected):
    assert translate(jsonpath) == expected


def test_the_payload_is_the_events_data_even_for_names_of_the_envelope():
    assert holds("$[?(@.type == 'chair')]", {"type": "chair"})
    assert not holds("$[?(@.type == 'product.created')]", {"type": "chair"})


def test_a_missing_field_is_neither_equal_nor_different_as_in_jayway():
    assert not holds("$[?(@.status == 'NEW')]", {})
    assert not holds("$[?(@.status != 'NEW')]", {})
    assert holds("$[?(@.status != 'NEW')]", {"status": "OPEN"})


def test_a_regex_matches_the_whole_value_as_in_jayway():
    assert holds("$[?(@.name =~ /ch.*/i)]", {"name": "Chair"})
    assert not holds("$[?(@.name =~ /ch/)]", {"name": "chair"})
    assert not holds("$[?(@.name =~ /air/)]", {"name": "chair"})


def test_numbers_compare_with_numbers_and_strings_with_strings():
    assert holds("$[?(@.total.amount > 100)]", {"total": {"amount": 100.5}})
    assert not holds("$[?(@.total.amount > 100)]", {"total": {"amount": "200"}})


@pytest.mark.parametrize(
    "jsonpath, fragment",
    [
        ("$..code", "Only a predicate"),
        ("$[*]", "Only a predicate"),
        ("$.items[?(@.sku == 'x')]", "Only a predicate"),
        ("$[?(@.a == 'x')].b", "Only a predicate"),
        ("$[?(length(@.a) > 1)]", "compares no @ path"),
        ("$[?(@.a == @.b)]", "not a string, number"),
        ("$[?(@.a == $.b)]", "not a string, number"),
        ("$[?(@.a nin ['x'])]", "Not a valid JsonPath"),
        ("$[?(@.a < true)]", "compares with a number or a string"),
        ("$[?(@['a.b'] == 1)]", "without '.'"),
        ("$[?(@.a[-1] == 1)]", "list indexes from 0"),
        ("$[?(@)]", "names no field"),
        ("$[?(@.code == 'abc'", "Not a valid JsonPath"),
        ("$[?(" + "!(" * 20 + "@.a == 1" + ")" * 20 + ")]", "beyond what an eventFilter allows"),
        ("$[?(" + "(" * 900 + "@.a" + ")" * 900 + ")]", "nested too deeply"),
        ("$[?(@.a =~ /(a{1000}){1000}/)]", "too complex"),
        ("$[?(@.a == '" + "x" * 2000 + "')]", "longer than 2000"),
    ],
)
def test_other_forms_are_refused_saying_why(jsonpath, fragment):
    with pytest.raises(JsonPathError) as refused:
        translate(jsonpath)
    assert fragment in str(refused.value)

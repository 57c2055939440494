"""Change-aware routing: update events carry `changed`, and eventFilter's $changed routes on it (issue 17).

Pure unit tests of core/changes.py (in the mutation-testing selection, setup.cfg [mutmut]); the same rules end to end,
through the database, are in test_changes_routed.py."""

import pytest

from subscriptions.catalog import builtin_change_pairs, builtin_definitions
from subscriptions.core.changes import (
    ChangePair, change_pair, change_pair_problem, change_pattern_problem, changed_paths, changes_of,
    compile_change_patterns, with_changes,
)
from subscriptions.core.conditions import FilterError, compile_filter
from subscriptions.core.payloads import compile_custom_payload, shape_body

# Where the seeds put the new and the old object of every update event that has both (000: entrecode, 004:
# OpenRegister). Data managers and models carry no old values ("old values are not available on update events").
SEED_PAIRS = {
    "entryUpdated": ("data", "oldEntryData"),
    "assetUpdated": ("updatedValues", "oldValues"),
    "assetgroupUpdated": ("updatedValues", "oldValues"),
    "ObjectUpdatedEvent": ("newObject", "oldObject"),
    "RegisterUpdatedEvent": ("newRegister", "oldRegister"),
    "SchemaUpdatedEvent": ("newSchema", "oldSchema"),
    "ApplicationUpdatedEvent": ("newApplication", "oldApplication"),
    "AgentUpdatedEvent": ("newAgent", "oldAgent"),
    "SourceUpdatedEvent": ("newSource", "oldSource"),
    "ConfigurationUpdatedEvent": ("newConfiguration", "oldConfiguration"),
    "ViewUpdatedEvent": ("newView", "oldView"),
    "ConversationUpdatedEvent": ("newConversation", "oldConversation"),
    "OrganisationUpdatedEvent": ("newOrganisation", "oldOrganisation"),
}


def entry_updated(new, old, **extra):
    return {"entryID": "e1", "modelTitle": "article", "shortID": "035af82b", "data": new, "oldEntryData": old, **extra}


# --- the diff -------------------------------------------------------------------------------------------------


def test_the_issue_example_only_the_title_changed():
    data = entry_updated({"title": "B", "n": 1}, {"title": "A", "n": 1})
    assert changes_of(data, ChangePair("data", "oldEntryData")) == ["title"]


def test_nested_objects_are_compared_leaf_by_leaf_and_paths_are_dotted_and_sorted():
    new = {"price": {"amount": 12, "currency": "EUR"}, "meta": {"seo": {"title": "x"}}, "b": 1}
    old = {"price": {"amount": 10, "currency": "EUR"}, "meta": {"seo": {"title": "y"}}, "b": 1}
    assert changed_paths(new, old) == ["meta.seo.title", "price.amount"]


def test_lists_are_compared_whole():
    assert changed_paths({"tags": ["a", "b"]}, {"tags": ["a", "c"]}) == ["tags"]
    assert changed_paths({"tags": [{"x": 1}]}, {"tags": [{"x": 1}]}) == []


def test_a_key_on_one_side_only_counts_as_changed_at_that_key():
    assert changed_paths({"a": 1, "price": {"amount": 1}}, {"a": 1, "gone": None}) == ["gone", "price"]


def test_values_compare_as_json_types():
    assert changed_paths({"n": 1, "ok": True, "s": "1"}, {"n": 1.0, "ok": 1, "s": 1}) == ["ok", "s"]


def test_an_object_replaced_by_a_scalar_changes_at_its_own_path():
    assert changed_paths({"price": 5}, {"price": {"amount": 5}}) == ["price"]


def test_a_missing_or_non_object_side_counts_as_empty():
    pair = ChangePair("newObject", "oldObject")
    assert changes_of({"newObject": {"id": 1, "data": {"t": "x"}}}, pair) == ["data", "id"]
    assert changes_of({"newObject": {"id": 1}, "oldObject": None}, pair) == ["id"]
    assert changes_of({}, pair) == []


@pytest.mark.parametrize("spec,problem", [
    ({"new": "data"}, "A change pair"),
    ({"new": "data", "old": "data"}, "different"),
    ({"new": "a..b", "old": "c"}, "new:"),
    ({"new": "a", "old": 3}, "old:"),
])
def test_bad_change_pairs_say_why(spec, problem):
    assert problem in change_pair_problem(spec)


PAIR_SHAPE = 'A change pair is {"new": "<path in data>", "old": "<path in data>"}.'


def path_problem(side):
    return f"{side}: a dotted path into data (letters, digits, '_', '-', '$', ':'; at most 200 characters)."


@pytest.mark.parametrize("spec,problem", [
    (None, PAIR_SHAPE),
    (["data", "old"], PAIR_SHAPE),
    ({"new": "data", "old": "old", "extra": "x"}, PAIR_SHAPE),
    ({"new": 1, "old": "old"}, path_problem("new")),
    ({"new": "data", "old": None}, path_problem("old")),
    ({"new": "a" * 201, "old": "old"}, path_problem("new")),
    ({"new": "data", "old": "b" * 201}, path_problem("old")),
    ({"new": ".data", "old": "old"}, path_problem("new")),
    ({"new": "data.", "old": "old"}, path_problem("new")),
    ({"new": "data", "old": "old entry"}, path_problem("old")),
    ({"new": "data", "old": "old/entry"}, path_problem("old")),
    ({"new": "da*ta", "old": "old"}, path_problem("new")),
    ({"new": "", "old": "old"}, path_problem("new")),
    ({"new": "new.x", "old": "new.x"}, "new and old must be different paths."),
])
def test_a_change_pair_problem_names_the_side_and_the_rule(spec, problem):
    assert change_pair_problem(spec) == problem


@pytest.mark.parametrize("spec", [
    {"new": "data", "old": "oldEntryData"},
    {"new": "a" * 200, "old": "b" * 200},  # the longest paths allowed
    {"new": "A-z_0:$.x", "old": "y"},  # every character the seeds' field names use
    {"new": "new.object.data", "old": "old.object.data"},
])
def test_good_change_pairs_have_no_problem(spec):
    assert change_pair_problem(spec) is None


def test_a_stored_spec_becomes_its_pair_and_anything_else_none():
    assert change_pair({"new": "newObject", "old": "oldObject"}) == ChangePair(new="newObject", old="oldObject")
    assert change_pair({"old": "oldObject", "new": "newObject"}).new == "newObject"
    assert change_pair(None) is None
    assert change_pair({"new": "x"}) is None and change_pair({"new": "x", "old": "x"}) is None
    assert ChangePair("newObject", "oldObject").as_json() == {"new": "newObject", "old": "oldObject"}


def test_a_pair_may_point_below_the_top_of_data():
    data = {"payload": {"after": {"t": 2, "u": 1}, "before": {"t": 1, "u": 1}}, "other": 1}
    assert changes_of(data, ChangePair("payload.after", "payload.before")) == ["t"]
    # a step that is not an object, or a key that is not there, finds nothing: that side counts as empty
    assert changes_of({"payload": {"after": {"t": 2}, "before": 5}}, ChangePair("payload.after", "payload.before")) == ["t"]
    assert changes_of({"payload": 5}, ChangePair("payload.after", "payload.before")) == []
    assert changes_of({"payload": {"after": {"t": 2}}}, ChangePair("payload.after", "payload.before.x")) == ["t"]
    assert changes_of({"payload": {"after": {"t": 2}, "before": {"x": None}}},
                      ChangePair("payload.after", "payload.before.x")) == ["t"]


def test_the_data_itself_must_be_an_object_to_hold_a_pair():
    assert changes_of(["data"], ChangePair("data", "old")) == []
    assert changes_of(None, ChangePair("data", "old")) == []


def test_a_value_equal_on_both_sides_is_not_changed_whatever_its_type():
    same = {"s": "x", "n": 1, "f": 1.5, "b": False, "z": None, "l": [1, {"a": [2]}], "o": {"p": {"q": [None]}}}
    assert changed_paths(same, dict(same)) == []
    assert changed_paths({"n": 1}, {"n": 1.0}) == []
    assert changed_paths({"o": {}}, {"o": {}}) == []


def test_a_key_added_or_removed_deep_down_is_named_by_its_full_path():
    new = {"a": {"b": {"c": 1, "added": 2}}}
    old = {"a": {"b": {"c": 1, "removed": {"deep": 1}}}}
    assert changed_paths(new, old) == ["a.b.added", "a.b.removed"]
    assert changed_paths({"a": {"b": None}}, {"a": {"b": {}}}) == ["a.b"]
    assert changed_paths({"a": None}, {}) == ["a"] and changed_paths({}, {"a": None}) == ["a"]


def test_paths_are_sorted_as_text():
    new = {"b": 2, "a": {"z": 2, "c": 2}, "B": 2}
    assert changed_paths(new, {}) == ["B", "a", "b"]
    assert changed_paths(new, {"a": {"z": 1, "c": 1}}) == ["B", "a.c", "a.z", "b"]


def test_with_changes_adds_changed_only_for_a_pair_and_leaves_the_envelope_untouched():
    envelope = {"id": "e1", "type": "entryUpdated", "data": entry_updated({"title": "B"}, {"title": "A"})}
    assert with_changes(envelope, None) is envelope
    shaped = with_changes(envelope, ChangePair("data", "oldEntryData"))
    assert shaped == {**envelope, "changed": ["title"]}
    assert "changed" not in envelope
    assert with_changes({"type": "x"}, ChangePair("data", "old")) == {"type": "x", "changed": []}


# --- $changed paths and how they select ---------------------------------------------------------------------------

PATTERN_SHAPE = "a changed path is a non-empty string of at most 200 characters"


@pytest.mark.parametrize("pattern,problem", [
    (None, PATTERN_SHAPE),
    (3, PATTERN_SHAPE),
    ("", PATTERN_SHAPE),
    ("a" * 201, PATTERN_SHAPE),
    ("a..b", "'a..b' has an empty segment: segments are separated by single dots"),
    (".a", "'.a' has an empty segment: segments are separated by single dots"),
    ("a.", "'a.' has an empty segment: segments are separated by single dots"),
    ("pri*ce", "'pri*ce': '*' stands alone as a segment (it matches one path segment)"),
    ("a.**", "'a.**': '*' stands alone as a segment (it matches one path segment)"),
])
def test_a_changed_path_problem_says_what_is_wrong(pattern, problem):
    assert change_pattern_problem(pattern) == problem


@pytest.mark.parametrize("pattern", ["title", "a" * 200, "price.*", "*", "*.amount", "a.*.c", "data.title"])
def test_good_changed_paths_have_no_problem(pattern):
    assert change_pattern_problem(pattern) is None


@pytest.mark.parametrize("patterns,changed,expected", [
    (["a.b.c"], ["a"], True),  # the changed path lies above a pattern, at any depth
    (["a.b.c"], ["a.b"], True),
    (["a.b.c"], ["a.b.c"], True),
    (["a.b.c"], ["a.b.c.d.e"], True),  # ... or below it, at any depth
    (["a.b.c"], ["a.b.x"], False),
    (["a.b.c"], ["b"], False),
    (["a"], ["a.b.c.d"], True),
    (["a"], ["ab"], False),
    (["a.b"], ["a.c.b"], False),
    (["*"], ["anything"], True),
    (["*"], ["a.b"], True),
    (["a.*.c"], ["a.x.c"], True),
    (["a.*.c"], ["a.x"], True),  # the whole of a.x changed, so its c did
    (["a.*.c"], ["a.x.d"], False),
    (["a.*.c"], ["b.x.c"], False),
    (["*.c"], ["a.b"], False),
    (["x", "a.*"], ["a.q"], True),
    (["x", "y"], ["z", "y.w"], True),  # any pattern selecting any changed path
])
def test_a_pattern_selects_paths_at_above_and_below_it(patterns, changed, expected):
    assert compile_change_patterns(patterns)(changed) is expected


def test_changed_that_is_not_a_list_of_paths_selects_nothing():
    test = compile_change_patterns(["title", "*"])
    assert test(["title"]) is True
    assert test("title") is False and test(("title",)) is False and test(None) is False and test({"title": 1}) is False
    assert test([1, None, ["title"]]) is False
    assert test([1, "title"]) is True


# --- the pairs the catalog declares -----------------------------------------------------------------------------


def test_the_catalog_declares_exactly_the_pairs_of_the_seeds():
    assert {key: tuple(pair) for key, pair in builtin_change_pairs().items()} == SEED_PAIRS


@pytest.mark.parametrize("key", sorted(SEED_PAIRS))
def test_every_declared_pair_finds_what_changed_in_an_event_shaped_like_the_seed(key):
    new_at, old_at = SEED_PAIRS[key]
    example = builtin_definitions()[key]["example"] or {}
    data = {**example, new_at: {"id": 123, "data": {"title": "John Doe (Updated)", "email": "a@example.com"}},
            old_at: {"id": 123, "data": {"title": "John Doe", "email": "a@example.com"}}}
    assert changes_of(data, builtin_change_pairs()[key]) == ["data.title"]


def test_created_and_deleted_entries_no_longer_claim_to_tell_what_changed():
    for key in ("entryCreated", "entryDeleted"):
        assert "changed" not in builtin_definitions()[key]["description"]["en"]


# --- $changed -------------------------------------------------------------------------------------------------


def holds(spec, changed):
    envelope = {"type": "entryUpdated", "data": {"title": "B"}}
    if changed is not None:
        envelope["changed"] = changed
    return compile_filter(spec).matches(envelope)


@pytest.mark.parametrize("patterns,changed,expected", [
    (["title"], ["title"], True),
    (["title"], ["n"], False),
    (["title"], ["titles"], False),
    (["price"], ["price.amount"], True),  # a prefix selects what lies below it
    (["price.amount"], ["price"], True),  # the whole price changed, so its amount did
    (["price.*"], ["price.amount"], True),
    (["price.*"], ["price.amount.cents"], True),
    (["price.*"], ["prices.amount"], False),
    (["*.amount"], ["price.amount"], True),
    (["*.amount"], ["price.currency"], False),
    (["title", "price.*"], ["n", "price.currency"], True),
    (["title"], [], False),
    (["title"], None, False),  # an event without a pair has no `changed`
])
def test_changed_selects_paths_with_wildcards_and_prefixes(patterns, changed, expected):
    assert holds({"$changed": patterns}, changed) is expected


def test_changed_combines_with_or_not_and_field_conditions():
    price_or_title = {"$or": [{"$changed": ["price.*"]}, {"$changed": ["title"]}]}
    assert holds(price_or_title, ["price.amount"]) and holds(price_or_title, ["title"]) and not holds(price_or_title, ["n"])
    not_only_noise = {"$not": {"$changed": ["meta.*", "modified"]}}
    assert holds(not_only_noise, ["title"]) and not holds(not_only_noise, ["meta.seo"])
    assert holds(not_only_noise, None)  # nothing known to have changed: $not holds
    mixed = {"$and": [{"$changed": ["title"]}, {"data.title": "B"}]}
    assert holds(mixed, ["title"]) and not compile_filter(mixed).matches({"data": {"title": "C"}, "changed": ["title"]})


def test_changed_is_an_envelope_path_for_field_conditions_too():
    assert holds({"changed": {"$contains": "title"}}, ["n", "title"])
    assert not holds({"changed": {"$contains": "title"}}, ["n"])
    assert holds({"data.changed": {"$exists": False}}, ["title"])  # a data field named `changed` is still reachable


@pytest.mark.parametrize("spec,path", [
    ({"$changed": "title"}, "$changed"),
    ({"$changed": []}, "$changed"),
    ({"$changed": ["title", ""]}, "$changed[1]"),
    ({"$changed": ["a..b"]}, "$changed[0]"),
    ({"$changed": ["pri*ce"]}, "$changed[0]"),
    ({"$or": [{"x": 1}, {"$changed": [3]}]}, "$or[1].$changed[0]"),
    ({"$changed": ["a"] * 65}, "$changed"),
])
def test_a_bad_changed_is_refused_naming_the_path(spec, path):
    with pytest.raises(FilterError) as error:
        compile_filter(spec)
    assert error.value.path == path


@pytest.mark.parametrize("spec,message", [
    ({"$changed": "title"}, "$changed must be a non-empty list of paths"),
    ({"$changed": {"title": 1}}, "$changed must be a non-empty list of paths"),
    ({"$changed": []}, "$changed must be a non-empty list of paths"),
    ({"$changed": ["a"] * 65}, "$changed lists more than 64 paths"),
    ({"$changed": ["title", "a..b"]}, "'a..b' has an empty segment: segments are separated by single dots"),
])
def test_a_bad_changed_says_what_is_wrong(spec, message):
    with pytest.raises(FilterError) as error:
        compile_filter(spec)
    assert error.value.message == message


def test_changed_lists_up_to_64_paths():
    assert holds({"$changed": [f"f{i}" for i in range(63)] + ["title"]}, ["title"])


def test_changed_reads_the_envelopes_changed_not_a_data_field_of_that_name():
    envelope = {"type": "entryUpdated", "data": {"changed": ["title"]}}
    assert not compile_filter({"$changed": ["title"]}).matches(envelope)
    assert compile_filter({"$changed": ["title"]}).matches({**envelope, "changed": ["title"]})


def test_custom_payload_can_point_at_changed():
    envelope = {"id": "e", "type": "entryUpdated", "timestamp": "t", "tenant": "acme", "data": {"entryID": "e1"}, "changed": ["title"]}
    body = shape_body(envelope, (), compile_custom_payload({"entry": "/data/entryID", "changed": "/changed"}))
    assert body == {"entry": "e1", "changed": ["title"]}

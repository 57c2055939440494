"""eventFilter: validation and compilation of endpoint filters into fast predicates over event envelopes."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import regex

from subscriptions.core.budget import (
    DEFAULT_BUDGET, MAX_REGEX_EXPANSION, MAX_REGEX_LENGTH, REGEX_OPTIONS, REGEX_WINDOW, Undecided, regex_expansion,
    remaining, time_budget,
)
from subscriptions.core.changes import MAX_CHANGE_PATTERNS, change_pattern_problem, compile_change_patterns
from subscriptions.core.values import (
    JSON_TYPES, MISSING, SCALARS, LocatedError, json_key, is_number, json_equal, normalized_path, path_resolver,
    scalar_key,
)

__all__ = [
    "Filter", "FilterError", "Undecided", "compile_filter", "json_equal", "path_resolver", "scalar_key", "time_budget",
    "MISSING",
]

MAX_DEPTH = 16
MAX_CONDITIONS = 256
MAX_REGEXES = 16  # per filter, checked when a filter is saved (see compile_filter's `stored`)

Test = Callable[[Any], bool]


class FilterError(LocatedError):
    """A filter that cannot be compiled; `path` says where, e.g. "$or[1].data.x"."""


class Filter:
    """A compiled eventFilter. Build with compile_filter(); reuse for every event.

    `equalities` maps a normalized path ("data.storeId") to the scalar keys (see scalar_key) one of which the value
    there must have for the filter to hold: the top-level equality and one-of conditions. A routing index can use
    it to skip filters that cannot hold; it never replaces evaluating the filter.
    """

    __slots__ = ("_test", "equalities")

    def __init__(self, test: Test, equalities: dict[str, frozenset] | None = None):
        self._test = test
        self.equalities = equalities or {}

    def matches(self, envelope: dict, budget: float = DEFAULT_BUDGET) -> bool:
        """Does the filter hold? One that cannot be decided within `budget` seconds counts as not holding."""
        try:
            with time_budget(budget):
                return self._test(envelope)
        except Undecided:
            return False

    def holds(self, envelope: dict) -> bool:
        """Does the filter hold, within the time_budget() the caller set around it? Raises Undecided when spent."""
        return self._test(envelope)


def compile_filter(spec: dict | None, *, stored: bool = False) -> Filter:
    """Validate spec completely and return a Filter; raise FilterError at the first problem.

    stored=True compiles a filter that was saved before (for routing or a preview): the limits that only keep new
    filters small (MAX_REGEXES) are not applied again, so tightening them never cuts off an endpoint silently;
    the time budget bounds what such a filter costs per event. Limits that protect compilation itself still hold.
    """
    if spec is None:
        return Filter(_always)
    compiler = _Compiler(max_regexes=None if stored else MAX_REGEXES)
    test = compiler.filter(spec, "", 1)
    return Filter(test, compiler.equalities)


def _always(envelope: Any) -> bool:
    return True


# --- matching primitives: JSON-type strict, so 1 != true and "1" != 1, but 1 == 1.0 ---


def _equals(expected: Any) -> Test:
    kind = type(expected)
    if kind is str:
        return lambda v: type(v) is str and v == expected
    if kind is bool or expected is None:
        return lambda v: v is expected  # JSON true/false/null are singletons
    if is_number(expected):
        return lambda v: (type(v) is int or type(v) is float) and v == expected
    return lambda v: json_equal(v, expected)


def _one_of(options: list) -> Test:
    # Scalars go into a set so long "one of" lists cost one lookup per event.
    keys = frozenset(json_key(o) for o in options if type(o) in SCALARS)
    compounds = tuple(o for o in options if type(o) not in SCALARS)

    def test(v: Any) -> bool:
        if type(v) in SCALARS:
            return json_key(v) in keys
        return any(json_equal(v, o) for o in compounds)

    return test


def _compare(op: Callable[[Any, Any], bool], operand: Any) -> Test:
    # Numbers compare with numbers, strings with strings (ISO timestamps sort as strings).
    if type(operand) is str:
        return lambda v: type(v) is str and op(v, operand)
    return lambda v: (type(v) is int or type(v) is float) and op(v, operand)


def _contains(needle: Any) -> Test:
    def test(v: Any) -> bool:
        if type(v) is str:
            return type(needle) is str and needle in v
        if type(v) is list:
            remaining()  # a scan in Python of a list as long as the event allows: only while budget is left
            return any(json_equal(item, needle) for item in v)
        return False

    return test


def _matches_regex(pattern: regex.Pattern) -> Test:
    def test(v: Any) -> bool:
        if type(v) is not str:
            return False
        try:
            return pattern.search(v, endpos=REGEX_WINDOW, timeout=remaining()) is not None
        except TimeoutError:
            # Not "no match": under $not that would become a match. The filter stays undecided.
            raise Undecided from None

    return test


def _negate(test: Test) -> Test:
    return lambda v: not test(v)


def _all(tests: list[Test]) -> Test:
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]
    tests = tuple(tests)

    def test(v: Any) -> bool:
        for t in tests:
            if not t(v):
                return False
        return True

    return test


def _any(tests: list[Test]) -> Test:
    tests = tuple(tests)

    def test(v: Any) -> bool:
        for t in tests:
            if t(v):
                return True
        return False

    return test


def _at(resolve: Callable[[Any], Any], test: Test) -> Test:
    return lambda envelope: test(resolve(envelope))


# --- compilation: every check happens here, once, so matching never validates ---

_COMPARISONS = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_OPERATORS = frozenset(
    {"$eq", "$ne", "$in", "$nin", "$exists", "$regex", "$options", "$startsWith", "$endsWith", "$contains"}
) | _COMPARISONS.keys()


class _Compiler:
    def __init__(self, max_regexes: int | None) -> None:
        self.conditions = 0
        self.regexes = 0
        self.max_regexes = max_regexes
        self.regex_expansion = 0
        self.equalities: dict[str, frozenset] = {}

    def filter(self, spec: Any, prefix: str, depth: int) -> Test:
        if type(spec) is not dict:
            raise FilterError(prefix, "a filter must be an object")
        if depth > MAX_DEPTH:
            raise FilterError(prefix, f"nested deeper than {MAX_DEPTH} levels")
        tests = []
        for key, condition in spec.items():
            if type(key) is not str:
                raise FilterError(prefix, f"key {key!r} is not a string")
            path = f"{prefix}.{key}" if prefix else key
            self._count(path)
            if key in ("$and", "$or"):
                tests.append(self._combine(key, condition, path, depth))
            elif key == "$not":
                tests.append(_negate(self.filter(condition, path, depth + 1)))
            elif key == "$changed":
                tests.append(self._changed(condition, path))
            elif key.startswith("$"):
                raise FilterError(path, f"unknown operator {key} (a filter allows $and, $or, $not, $changed)")
            else:
                tests.append(self._condition(key, condition, path, depth + 1))
                if depth == 1:
                    self._note_equality(key, condition)
        return _all(tests)

    def _note_equality(self, key: str, condition: Any) -> None:
        """Record a top-level condition that holds only for certain scalar values (for the routing index)."""
        if type(condition) is dict and len(condition) == 1:
            (op, operand), = condition.items()
            condition = [operand] if op == "$eq" else operand if op == "$in" else None
        elif type(condition) is not list:
            condition = [condition]
        if type(condition) is list and condition and all(type(v) in SCALARS for v in condition):
            self.equalities[normalized_path(key)] = frozenset(json_key(v) for v in condition)

    def _count(self, path: str) -> None:
        # Nested filters count too, so "$or": [{}, {}, ...] cannot grow without bound.
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterError(path, f"more than {MAX_CONDITIONS} conditions")

    def _combine(self, key: str, filters: Any, path: str, depth: int) -> Test:
        if type(filters) is not list or not filters:
            raise FilterError(path, f"{key} must be a non-empty list of filters")
        tests = []
        for i, nested in enumerate(filters):
            self._count(f"{path}[{i}]")
            tests.append(self.filter(nested, f"{path}[{i}]", depth + 2))
        return _all(tests) if key == "$and" else _any(tests)

    def _changed(self, patterns: Any, path: str) -> Test:
        """{"$changed": ["title", "price.*"]}: holds when the envelope's `changed` has a path one pattern selects."""
        if type(patterns) is not list or not patterns:
            raise FilterError(path, "$changed must be a non-empty list of paths")
        if len(patterns) > MAX_CHANGE_PATTERNS:
            raise FilterError(path, f"$changed lists more than {MAX_CHANGE_PATTERNS} paths")
        for i, pattern in enumerate(patterns):
            problem = change_pattern_problem(pattern)
            if problem:
                raise FilterError(f"{path}[{i}]", problem)
        return _at(path_resolver("changed"), compile_change_patterns(patterns))

    def _condition(self, key: str, condition: Any, path: str, depth: int) -> Test:
        if "" in key.split("."):
            raise FilterError(path, "a path must be non-empty dotted segments")
        self._value(condition, path, depth)
        resolve = path_resolver(key)
        if type(condition) is list:
            return _at(resolve, _one_of(condition))
        if type(condition) is dict and condition:
            operators = [k.startswith("$") for k in condition]
            if all(operators):
                return _at(resolve, self._operators(condition, path))
            if any(operators):
                raise FilterError(path, "an object mixes $operators with plain keys")
        return _at(resolve, _equals(condition))

    def _operators(self, spec: dict, path: str) -> Test:
        tests = []
        for op, operand in spec.items():
            if op not in _OPERATORS:
                raise FilterError(path, f"unknown operator {op}")
            if op == "$eq":
                tests.append(_equals(operand))
            elif op == "$ne":
                tests.append(_negate(_equals(operand)))
            elif op in ("$in", "$nin"):
                if type(operand) is not list:
                    raise FilterError(path, f"{op} must be a list")
                test = _one_of(operand)
                tests.append(test if op == "$in" else _negate(test))
            elif op == "$exists":
                if type(operand) is not bool:
                    raise FilterError(path, "$exists must be true or false")
                tests.append((lambda v: v is not MISSING) if operand else (lambda v: v is MISSING))
            elif op in _COMPARISONS:
                if type(operand) not in (int, float, str):
                    raise FilterError(path, f"{op} must be a number or a string")
                tests.append(_compare(_COMPARISONS[op], operand))
            elif op in ("$startsWith", "$endsWith"):
                if type(operand) is not str:
                    raise FilterError(path, f"{op} must be a string")
                method = str.startswith if op == "$startsWith" else str.endswith
                tests.append(lambda v, s=operand, m=method: type(v) is str and m(v, s))
            elif op == "$contains":
                tests.append(_contains(operand))
            elif op == "$regex":
                tests.append(_matches_regex(self._regex(operand, spec.get("$options", ""), path)))
            elif "$regex" not in spec:  # $options alone
                raise FilterError(path, "$options is only allowed next to $regex")
        return _all(tests)

    def _regex(self, pattern: Any, options: Any, path: str) -> regex.Pattern:
        if type(pattern) is not str:
            raise FilterError(path, "$regex must be a string")
        if len(pattern) > MAX_REGEX_LENGTH:
            raise FilterError(path, f"$regex is longer than {MAX_REGEX_LENGTH} characters")
        if type(options) is not str or not set(options) <= REGEX_OPTIONS.keys():
            raise FilterError(path, '$options must be a string of letters from "imsx"')
        self.regexes += 1
        if self.max_regexes is not None and self.regexes > self.max_regexes:
            raise FilterError(path, f"more than {self.max_regexes} $regex conditions in one filter")
        self.regex_expansion += regex_expansion(pattern)
        if self.regex_expansion > MAX_REGEX_EXPANSION:
            raise FilterError(path, "$regex is too complex: its counted repeats {m,n} unroll too far")
        flags = sum(REGEX_OPTIONS[letter] for letter in set(options))
        try:
            return regex.compile(pattern, flags)
        except (regex.error, ValueError, OverflowError, RecursionError) as error:
            raise FilterError(path, f"$regex is invalid: {error}") from None

    def _value(self, value: Any, path: str, depth: int) -> None:
        """Reject non-JSON values and values nested too deeply (which would make matching recurse)."""
        if type(value) not in JSON_TYPES:
            raise FilterError(path, f"{type(value).__name__} is not a JSON value")
        if type(value) in (list, dict) and depth > MAX_DEPTH:
            raise FilterError(path, f"nested deeper than {MAX_DEPTH} levels")
        if type(value) is list:
            for item in value:
                self._value(item, path, depth + 1)
        elif type(value) is dict:
            for key, item in value.items():
                if type(key) is not str:
                    raise FilterError(path, f"key {key!r} is not a string")
                self._value(item, path, depth + 1)



"""Emporix's JsonPath `filter` (Jayway predicates) translated to an eventFilter, or refused saying why. Pure.

Emporix evaluates `$[?(<predicate>)]` against the event payload, which is the envelope's `data`: `@.code` becomes
`data.code`. Supported (README "Coming from Emporix"): comparisons `== != < <= > >=` of a path with a string, number,
true, false or null (either side); `=~ /regex/flags` (a whole-value match, as Jayway's); `in [...]`; a path alone (it
exists) and `!path`; `&&`, `||`, `!( )` and parentheses. Paths are `@.a.b`, `@['a']` and `@.items[0]`. Anything
else (functions, wildcards, `..`, `$` inside the predicate, comparing two paths) is refused, naming it.

Parsing is python-jsonpath's (a maintained JSONPath parser); only its syntax tree is read here.
"""

from __future__ import annotations

import re

import jsonpath
from jsonpath import filter as ast
from jsonpath.selectors import Filter as FilterSelector, IndexSelector, NameSelector

from subscriptions.core.conditions import FilterError, compile_filter

__all__ = ["JsonPathError", "MAX_FILTER_LENGTH", "translate"]

MAX_FILTER_LENGTH = 2000
_MIRRORED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_COMPARISONS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_FLAGS = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s", re.VERBOSE: "x"}
SUPPORTED = ("$[?(<predicate>)] with @.path compared (== != < <= > >=) to a string, number, true, false or null, "
             "@.path =~ /regex/i, @.path in [...], @.path alone (exists), !, && and ||")


class JsonPathError(ValueError):
    """A filter eventhub cannot translate; str() says what and why."""


def translate(text: str | None) -> dict | None:
    """The eventFilter for an Emporix JsonPath filter; None for none (every event of the type). JsonPathError else."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise JsonPathError(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    try:
        path = jsonpath.compile(text)
    except (jsonpath.JSONPathError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, RecursionError) or "recursion" in reason:  # the parser recurses per parenthesis
            raise JsonPathError("The filter is nested too deeply.") from None
        raise JsonPathError(f"Not a valid JsonPath: {reason}") from None
    segments = getattr(path, "segments", ())
    if len(segments) != 1 or len(segments[0].selectors) != 1 or not isinstance(segments[0].selectors[0], FilterSelector):
        raise JsonPathError(f"Only a predicate on the payload is supported: {SUPPORTED}.")
    try:
        event_filter = _predicate(segments[0].selectors[0].expression.expression)
    except RecursionError:
        raise JsonPathError("The filter is nested too deeply.") from None
    try:
        compile_filter(event_filter)
    except FilterError as exc:
        raise JsonPathError(f"The filter goes beyond what an eventFilter allows: {exc}") from None
    return event_filter


def _predicate(node) -> dict:
    if isinstance(node, ast.InfixExpression) and node.operator in ("&&", "||"):
        key = "$and" if node.operator == "&&" else "$or"
        return {key: _flattened(key, _predicate(node.left)) + _flattened(key, _predicate(node.right))}
    if isinstance(node, ast.PrefixExpression) and node.operator == "!":
        if isinstance(node.right, ast.RelativeFilterQuery):
            return {_path(node.right): {"$exists": False}}
        return {"$not": _predicate(node.right)}
    if isinstance(node, ast.RelativeFilterQuery):
        return {_path(node): {"$exists": True}}
    if isinstance(node, ast.InfixExpression):
        return _comparison(node)
    raise JsonPathError(f"'{node}' is not supported; supported: {SUPPORTED}.")


def _flattened(key: str, condition: dict) -> list:
    return condition[key] if list(condition) == [key] else [condition]


def _comparison(node) -> dict:
    operator, left, right = node.operator, node.left, node.right
    if operator in _MIRRORED and not isinstance(left, ast.RelativeFilterQuery):
        operator, left, right = _MIRRORED[operator], right, left
    if not isinstance(left, ast.RelativeFilterQuery):
        raise JsonPathError(f"'{node}' compares no @ path; supported: {SUPPORTED}.")
    path = _path(left)
    if operator == "=~":
        return {path: _regex(right, node)}
    if operator == "in":
        if not isinstance(right, ast.ListLiteral):
            raise JsonPathError(f"'{node}': `in` needs a list of values, e.g. ['A', 'B'].")
        return {path: {"$in": [_literal(item, node) for item in right.items]}}
    value = _literal(right, node)
    if operator == "==":
        return {path: {"$eq": value}}
    if operator == "!=":
        return {path: {"$exists": True, "$ne": value}}  # Jayway: a missing value is not "different"
    if operator in _COMPARISONS:
        if type(value) not in (int, float, str):
            raise JsonPathError(f"'{node}': {operator} compares with a number or a string.")
        return {path: {_COMPARISONS[operator]: value}}
    raise JsonPathError(f"The operator '{operator}' is not supported; supported: {SUPPORTED}.")


def _literal(node, whole):
    if isinstance(node, ast.Nil):
        return None
    if isinstance(node, (ast.StringLiteral, ast.BooleanLiteral, ast.IntegerLiteral, ast.FloatLiteral)):
        return node.value
    raise JsonPathError(f"'{whole}' compares with '{node}', which is not a string, number, true, false or null.")


def _regex(node, whole) -> dict:
    if not isinstance(node, ast.RegexLiteral):
        raise JsonPathError(f"'{whole}': =~ needs a regular expression literal, e.g. /^A.*/i.")
    pattern = node.value
    options = "".join(letter for flag, letter in _FLAGS.items() if pattern.flags & flag)
    # Jayway matches the whole value (Java's Matcher.matches()); $regex searches, so anchor it.
    return {"$regex": rf"\A(?:{pattern.pattern})\Z", "$options": options} if options else {"$regex": rf"\A(?:{pattern.pattern})\Z"}


def _path(query) -> str:
    """`@.a['b'].items[0]` -> "data.a.b.items.0"."""
    segments = ["data"]
    for segment in query.path.segments:
        if len(segment.selectors) != 1 or type(segment).__name__ != "JSONPathChildSegment":
            raise JsonPathError(f"'{query}' selects more than one value; a path must name one field.")
        selector = segment.selectors[0]
        if isinstance(selector, NameSelector) and selector.name and "." not in selector.name:
            segments.append(selector.name)
        elif isinstance(selector, IndexSelector) and selector.index >= 0:
            segments.append(str(selector.index))
        else:
            raise JsonPathError(f"'{query}': only field names (without '.') and list indexes from 0 are supported.")
    if len(segments) == 1:
        raise JsonPathError(f"'{query}' names no field of the payload.")
    return ".".join(segments)

"""Bounded work for the filter language's costly parts: a time budget shared by all filters of one event, and the
limits that keep one $regex from exhausting memory or time. Pure (a ContextVar holds the deadline)."""

from __future__ import annotations

import re
from contextvars import ContextVar
from time import monotonic

import regex

MAX_REGEX_LENGTH = 512
REGEX_WINDOW = 64 * 1024  # only this much of a value is searched, so work per call is bounded
# Seconds a filter may take when no caller set a shared budget (time_budget): Filter.matches, a preview.
DEFAULT_BUDGET = 0.05
# `regex` unrolls counted repeats when compiling, so "(?:(?:a{1000}){1000}){1000}" alone would exhaust
# memory; the estimated unrolled size of all patterns in one filter is capped.
MAX_REGEX_EXPANSION = 20_000
REGEX_OPTIONS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}
_REPEAT = re.compile(r"\{([0-9]*)(?:,([0-9]*))?\}")


class Undecided(Exception):
    """The time budget ran out before a filter could be decided (it is neither a match nor a miss)."""


# The monotonic() time by which the filters being evaluated must be decided; None: no shared budget was set.
_deadline: ContextVar[float | None] = ContextVar("eventfilter_deadline", default=None)


class time_budget:
    """`with time_budget(seconds):` every filter evaluated inside shares that much time (e.g. all endpoints'
    filters of one event). Only the conditions whose cost grows with the data look at the clock, once per call:
    $regex (its timeout is what is left) and $contains over a list. Past the deadline they raise Undecided."""

    __slots__ = ("seconds", "_token")

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        self._token = _deadline.set(monotonic() + self.seconds)
        return self

    def __exit__(self, *exc_info):
        _deadline.reset(self._token)


def remaining() -> float:
    """Seconds the current call may still take; raises Undecided when the shared budget is spent."""
    deadline = _deadline.get()
    if deadline is None:
        return DEFAULT_BUDGET  # no shared budget: each call is bounded on its own
    remaining = deadline - monotonic()
    if remaining <= 0:
        raise Undecided
    return remaining



def regex_expansion(pattern: str) -> int:
    """An over-estimate of the nodes `regex` builds for pattern, counting counted repeats unrolled.

    Deliberately parser-free and pessimistic: a ")" repeats everything before it, a "]" everything since the
    first unclosed "[", and after a "#" (perhaps a verbose-mode comment) the larger of both readings is kept.
    """
    total = last = 0  # nodes so far; nodes a following quantifier would repeat
    opened: list[int] = []  # positions of "[" not yet closed
    comment = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        repeat = _REPEAT.match(pattern, i) if char == "{" else None
        if repeat and any(repeat.groups()):
            bound = max(1, *(int(n) for n in repeat.groups() if n))
            total += last * (bound - 1)
            last *= bound
            i = repeat.end()
            continue
        size = 1
        if char == "\\":
            i += 1  # the escaped character belongs to this atom
        elif char == ")":
            size = total
        elif char == "[":
            opened.append(i)
        elif char == "]" and opened:
            size = i - opened[0] + 1  # a set costs in proportion to its text
            opened.pop()
        elif char == "#":
            comment = True
        elif char == "\n":
            comment = False
        # Whitespace and comments may be skipped (verbose mode) and *+? never start an atom.
        transparent = comment or char.isspace() or char in "*+?"
        last = max(last, size) if transparent else size
        total += 1
        i += 1
    return total

"""Which event types an endpoint's `events` patterns select: exact keys, or `*` wildcards as in `product.*`."""

import re
from functools import lru_cache

PATTERN_RE = re.compile(r"^(\*|[A-Za-z0-9_.:*\-]{1,200})$")


@lru_cache(maxsize=4096)
def pattern_regex(pattern):
    """`*` stands for any run of characters (dots included); everything else is literal."""
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def pattern_matches(pattern, event_type):
    if "*" not in pattern:
        return pattern == event_type
    return pattern_regex(pattern).match(event_type) is not None


def patterns_match(patterns, event_type):
    return any(pattern_matches(p, event_type) for p in patterns)

"""Accept-Language negotiation for localized catalog strings ({"en": "...", "de": "..."})."""

import re

_TAG = re.compile(r"^(\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")


def parse_accept_language(header, limit=32):
    """Language tags in preference order, q=0 dropped. Malformed parts are ignored, never fatal."""
    if not header:
        return []
    ranked = []
    for position, part in enumerate(header.split(",")[:limit]):
        pieces = [p.strip() for p in part.split(";")]
        tag = pieces[0]
        if not tag or not _TAG.match(tag):
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = -1.0
        if 0 < q <= 1:
            ranked.append((-q, position, tag.lower()))
    ranked.sort()
    return [tag for _, _, tag in ranked]


def choose_language(available, preferences, fallbacks=()):
    """The language to show from `available`, honouring preferences (exact tag, then its primary subtag)."""
    if not available:
        return None
    lowered = {lang.lower(): lang for lang in available}
    for tag in preferences:
        if tag == "*":
            return next(iter(available))
        if tag in lowered:
            return lowered[tag]
        primary = tag.split("-", 1)[0]
        if primary in lowered:
            return lowered[primary]
    for tag in fallbacks:
        if tag and tag.lower() in lowered:
            return lowered[tag.lower()]
    return next(iter(available))


def localize(strings, preferences, fallbacks=()):
    """{lang: text} reduced to the one chosen language, as the Emporix API answers it."""
    lang = choose_language(strings or {}, preferences, fallbacks)
    return {lang: strings[lang]} if lang is not None else {}


def within(preferences, languages):
    """The preferences a tenant allows: tags (or their primary subtag) among `languages`, and "*"; all when the
    tenant names no languages. As Emporix: a language not configured for the project is ignored."""
    if not languages:
        return preferences
    allowed = {lang.lower() for lang in languages}
    return [tag for tag in preferences if tag == "*" or tag in allowed or tag.split("-", 1)[0] in allowed]

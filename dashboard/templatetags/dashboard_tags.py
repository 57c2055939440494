"""Template helpers. They return plain strings; autoescaping does the rest (nothing here marks data safe)."""

import json

from django import template

from dashboard.pages import localized as pick_language

register = template.Library()

BADGES = {
    "succeeded": "ok", "SUBSCRIBED": "ok", "enabled": "ok",
    "failed": "bad", "disabled": "bad",
    "pending": "warn", "UNSUBSCRIBED": "muted", "NONE": "muted",
}


@register.filter
def badge_class(status):
    return f"badge badge-{BADGES.get(str(status), 'muted')}"


@register.filter
def localized(strings, language="en"):
    return pick_language(strings, language)


@register.filter
def pretty_json(value):
    """JSON (or a JSON string) indented for a <pre>; text that is not JSON is returned as it is."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


@register.filter
def percent(value):
    return "–" if value is None else f"{value * 100:.1f}%"


@register.filter
def rate(value):
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}"


@register.filter
def status_class(code):
    if code is None:
        return "badge badge-bad"
    return "badge badge-ok" if 200 <= code < 300 else "badge badge-warn" if code < 500 and code >= 400 else "badge badge-bad"

"""Template helpers. They return plain strings; autoescaping does the rest (nothing here marks data safe)."""

import json

from django import template

from dashboard.pages import localized as pick_language

register = template.Library()

BADGES = {
    "succeeded": "ok", "SUBSCRIBED": "ok", "enabled": "ok",
    "failed": "bad", "disabled": "bad",
    "pending": "warn", "retrying": "bad", "queued": "warn", "UNSUBSCRIBED": "muted", "NONE": "muted",
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


@register.filter
def delivery_state(delivery):
    """What a delivery is doing, in a word: a pending one that was tried is failing and retrying, not merely pending."""
    if delivery.status == "pending":
        return "retrying" if delivery.attempt_count else "queued"
    return delivery.status


@register.filter
def delivery_next(delivery):
    """The rest of the story of a pending delivery: "3 attempts failed, next at 12:01:05 UTC"."""
    if delivery.status != "pending":
        return ""
    when = f"{delivery.next_attempt_at:%H:%M:%S} UTC" if delivery.next_attempt_at else "soon"
    tried = delivery.attempt_count
    if not tried:
        return f"first attempt at {when}"
    return f"{tried} attempt{'s' if tried > 1 else ''} failed, next at {when}"


@register.filter
def delivery_badge(delivery):
    if delivery.status == "pending" and delivery.attempt_count:
        return badge_class("retrying")
    return badge_class(delivery.status)


@register.filter
def per_hour(count):
    """A count over the last hour, said as such: "84 / hour", not "0.02 / s"."""
    return f"{count:,} / hour"


@register.filter
def layer(series, name):
    return series.layer_total(name)

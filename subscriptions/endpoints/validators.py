"""The rules an endpoint's fields obey, in one place: the API's EndpointSerializer, the dashboard's EndpointForm and
the Django admin's form all call these, so the same bad value is refused with the same words at every door.

Each cleaner takes a model field's value (a door has already read its own input format: JSON, a textarea, rows of
header inputs) and returns it cleaned, or raises Django's ValidationError (see subscriptions/validation.py).
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinLengthValidator, MinValueValidator

from eventhub.conf import hub_setting
from subscriptions.core.conditions import FilterError, compile_filter
from subscriptions.core.matching import PATTERN_RE, patterns_match
from subscriptions.core.ordering import OrderingError, compile_ordering
from subscriptions.core.payloads import PayloadError, compile_custom_payload
from subscriptions.delivery.sender import TargetError, validate_headers, validate_target_url
from subscriptions.validation import clean_fields, problem_at

MAX_EVENTS = 100
MAX_URL = 2048
MAX_DESCRIPTION = 2000
MIN_TIMEOUT, MAX_TIMEOUT, DEFAULT_TIMEOUT = 1, 60, 15
MAX_RATE_LIMIT = 10_000  # deliveries a second
MAX_RETRIES, MAX_RETRY_WAIT = 20, 86_400  # a retrySchedule's length, and each wait's bound (a day)
# Django validators, so the API's schema (drf-spectacular) shows them as minItems and maxItems; the words are DRF's.
EVENTS_COUNT = (
    MinLengthValidator(1, message="Ensure this field has at least 1 elements."),
    MaxLengthValidator(MAX_EVENTS, message=f"Ensure this field has no more than {MAX_EVENTS} elements."),
)


def clean_url(url) -> str:
    """An absolute http(s) URL the hub may send to (the SSRF guard: no private targets unless ALLOW_PRIVATE_TARGETS)."""
    try:
        return validate_target_url(url, allow_private=hub_setting("ALLOW_PRIVATE_TARGETS"))
    except TargetError as exc:
        raise ValidationError(str(exc))


def clean_headers(headers) -> dict:
    """Extra request headers: names are tokens, none the hub sets, values single-line and bounded, at most 50."""
    try:
        return validate_headers(headers)
    except TargetError as exc:
        raise ValidationError(str(exc))


def clean_events(patterns, known_event_types) -> list:
    """Event types and '*' patterns, each matching a type of the tenant's catalog; duplicates dropped, order kept."""
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ValidationError("events must be a list of event types or patterns.")
    for validator in EVENTS_COUNT:
        validator(patterns)
    for pattern in patterns:
        if not PATTERN_RE.match(pattern):
            raise ValidationError(f"'{pattern}' is not an event type or a pattern with '*'.")
        if not any(patterns_match([pattern], key) for key in known_event_types):
            raise ValidationError(f"'{pattern}' matches no event type in the catalog.")
    return list(dict.fromkeys(patterns))


def clean_event_filter(spec) -> dict | None:
    """A filter that compiles (core/conditions.py); an empty one is no filter."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValidationError("eventFilter must be an object of path: condition.")
    try:
        compile_filter(spec)
    except FilterError as exc:
        raise problem_at(exc.path, exc.message)
    return spec or None


def clean_custom_payload(template) -> dict | None:
    """A payload template that compiles (core/payloads.py); an empty one is no template."""
    if template is None:
        return None
    if not isinstance(template, dict):
        raise ValidationError("customPayload must be an object whose leaves are JSON pointers.")
    try:
        compile_custom_payload(template)
    except PayloadError as exc:
        raise problem_at(exc.path, exc.message)
    return template or None


RATE_LIMIT_WORDS = f"rateLimit must be a whole number of deliveries a second from 1 to {MAX_RATE_LIMIT}, or null."
# Django validators, so the API's schema shows them as minimum and maximum; the words are the rule's, at every door.
RATE_LIMIT_RANGE = (MinValueValidator(1, message=RATE_LIMIT_WORDS), MaxValueValidator(MAX_RATE_LIMIT, message=RATE_LIMIT_WORDS))


def clean_rate_limit(value) -> int | None:
    """At most this many deliveries a second to the endpoint, all deliver processes together; None: unlimited."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(RATE_LIMIT_WORDS)
    for validator in RATE_LIMIT_RANGE:
        validator(value)
    return value


def clean_retry_schedule(value) -> list | None:
    """Seconds to wait before each retry (the first try goes at once), instead of the hub's schedule; [] is no retry."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_RETRIES:
        raise ValidationError(f"retrySchedule must be a list of at most {MAX_RETRIES} waits in seconds, or null.")
    for index, wait in enumerate(value):
        if isinstance(wait, bool) or not isinstance(wait, int) or not 1 <= wait <= MAX_RETRY_WAIT:
            raise problem_at(str(index), f"A wait is a whole number of seconds from 1 to {MAX_RETRY_WAIT} (a day).")
    return value


def clean_ordering(spec) -> dict | None:
    """{"key": JSON pointer into the event} (core/ordering.py: RFC 6901, bounded), or None for unordered delivery."""
    try:
        compile_ordering(spec)
    except OrderingError as exc:
        raise problem_at(exc.path, exc.message)
    return spec


def clean_endpoint(values: dict, *, known_event_types) -> dict:
    """An endpoint's model values (those given) as the rules have them, for a form: ValidationError({field: [...]})
    names every field that breaks a rule, each problem a sentence saying where ("At data.price: ...")."""
    return clean_fields(values, {
        "url": clean_url,
        "headers": clean_headers,
        "events": lambda patterns: clean_events(patterns, known_event_types),
        "event_filter": clean_event_filter,
        "custom_payload": clean_custom_payload,
        "rate_limit": clean_rate_limit,
        "retry_schedule": clean_retry_schedule,
        "ordering": clean_ordering,
    })

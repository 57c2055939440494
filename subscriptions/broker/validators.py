"""The rules a broker source's fields obey, in one place: the API's SourceSerializer, the dashboard's SourceForm and
the Django admin's form all call these (see subscriptions/validation.py for the shape of their errors). The AMQP
rules themselves (names, binding keys) are core/amqp.py's."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinLengthValidator

from subscriptions.core.amqp import TYPE_FROM_BODY_FIELD, binding_key_problem, exchange_name_problem
from subscriptions.validation import clean_fields

MAX_BINDING_KEYS = 50
# Django validators, so the API's schema (drf-spectacular) shows them as minItems and maxItems; the words are DRF's.
BINDING_KEYS_COUNT = (
    MinLengthValidator(1, message="Ensure this field has at least 1 elements."),
    MaxLengthValidator(MAX_BINDING_KEYS, message=f"Ensure this field has no more than {MAX_BINDING_KEYS} elements."),
)
TYPE_FIELD_REQUIRED = "Required when typeFrom is body_field: the body field holding the type."
TYPE_FIELD_UNUSED = "Only used when typeFrom is body_field."


def clean_exchange(name) -> str:
    problem = exchange_name_problem(name)
    if problem:
        raise ValidationError(problem)
    return name


def clean_binding_keys(keys) -> list:
    """1 to 50 AMQP topic binding keys, every bad one named; duplicates dropped, order kept."""
    if not isinstance(keys, list):
        raise ValidationError("bindingKeys must be a list of binding keys.")
    for validator in BINDING_KEYS_COUNT:
        validator(keys)
    problems = [p for p in map(binding_key_problem, keys) if p]
    if problems:
        raise ValidationError(problems)
    return list(dict.fromkeys(keys))


def clean_catch_all_type(key, known_event_types) -> str:
    """Empty (unknown types are dead-lettered), or a type of the tenant's catalog."""
    if key and key not in known_event_types:
        raise ValidationError(f"'{key}' is not an event type of the catalog.")
    return key


def clean_type_field(type_from, type_field) -> str:
    """The body field holding the type: given exactly when the type is read from the body."""
    if type_from == TYPE_FROM_BODY_FIELD and not type_field:
        raise ValidationError(TYPE_FIELD_REQUIRED)
    if type_from != TYPE_FROM_BODY_FIELD and type_field:
        raise ValidationError(TYPE_FIELD_UNUSED)
    return type_field


def clean_source(values: dict, *, known_event_types) -> dict:
    """A source's model values as the rules have them, for a form: ValidationError({field: [...]}) names every field
    that breaks a rule; how the type is read is judged once the fields themselves are fine."""
    cleaned = clean_fields(values, {
        "exchange": clean_exchange,
        "binding_keys": clean_binding_keys,
        "catch_all_type": lambda key: clean_catch_all_type(key, known_event_types),
    })
    return clean_fields(cleaned, {"type_field": lambda field: clean_type_field(cleaned.get("type_from"), field)})

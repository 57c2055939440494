"""What the validator sets share (endpoints/validators.py, broker/validators.py): how a problem inside a JSON value
says where it sits, and how a form gets every field's problems at once.

A rule raises Django's ValidationError, which every door understands: DRF turns one raised in a serializer's
validate_<field> into that field's errors ({"eventFilter": {"data.price": [...]}} on the wire), and a Django form,
the dashboard's or the admin's, shows it at the field ("At data.price: ...").
"""

from collections.abc import Callable

from django.core.exceptions import ValidationError


def problem_at(path: str, message: str) -> ValidationError:
    """A problem at `path` inside a field's JSON value ({path: [message]}); at the field itself when path is empty."""
    return ValidationError({path: [message]}) if path else ValidationError(message)


def located(error: ValidationError) -> list[tuple[str, str]]:
    """[(path, message)]: where inside the field's value each problem sits ("" for the value as a whole)."""
    if hasattr(error, "error_dict"):
        return [(path, message) for path, messages in error.message_dict.items() for message in messages]
    return [("", message) for message in error.messages]


def sentences(error: ValidationError) -> list[str]:
    """The problems as a form shows them: "At data.price: Expected a number." for a place inside the value."""
    return [f"At {path}: {message}" if path else message for path, message in located(error)]


def clean_fields(values: dict, cleaners: dict[str, Callable]) -> dict:
    """`values` with each field that has a cleaner cleaned by it; every field that breaks a rule is reported at once:
    ValidationError({field: [sentence, ...]})."""
    cleaned, errors = dict(values), {}
    for name, clean in cleaners.items():
        if name in values:
            try:
                cleaned[name] = clean(values[name])
            except ValidationError as exc:
                errors[name] = sentences(exc)
    if errors:
        raise ValidationError(errors)
    return cleaned

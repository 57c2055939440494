"""System checks for configuration read from the environment (run by `manage.py check` and every server command)."""

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility)
def check_environment(app_configs, **kwargs):
    messages = [
        Error(message, hint="Fix the environment variable and start again.", id="eventhub.E001", obj=name)
        for name, message in getattr(settings, "CONFIG_ERRORS", [])
    ]
    if settings.AMQP_URL:
        messages += _check_url("AMQP_URL", settings.AMQP_URL, {"amqp", "amqps"}, "eventhub.E002")
    if settings.REDIS_URL:
        messages += _check_url("REDIS_URL", settings.REDIS_URL, {"redis", "rediss", "unix"}, "eventhub.E003")
    return messages


@register(Tags.security, deploy=True)
def check_production_secret(app_configs, **kwargs):
    if settings.SECRET_KEY_FROM_ENV:
        return []
    return [
        Warning(
            "SECRET_KEY is not set; a generated key stored in the data folder is used.",
            hint="Set SECRET_KEY in the environment of every web process.",
            id="eventhub.W001",
        )
    ]


def _check_url(name, value, schemes, check_id):
    try:
        parsed = urlparse(value)
        parsed.port  # raises ValueError on a non-numeric port
    except ValueError as exc:
        return [Error(f"{name} is not a valid URL: {exc}", id=check_id, obj=name)]
    if parsed.scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in sorted(schemes))
        return [Error(f"{name} must start with one of {allowed}; got {parsed.scheme or 'no scheme'}.", id=check_id, obj=name)]
    if parsed.scheme != "unix" and not parsed.hostname:
        return [Error(f"{name} names no host.", id=check_id, obj=name)]
    return []

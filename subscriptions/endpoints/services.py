"""Writes to webhook endpoints: create with a secret shown once, versioned changes, secret rotation, removal."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from subscriptions.delivery.health import circuit_reset
from subscriptions.models import Endpoint, EndpointSecret
from subscriptions.core.signing import EMPORIX_KEY_PREFIX, emporix_key, generate_secret

ROTATED_SECRET_GRACE = timedelta(hours=24)


@dataclass
class Conflict:
    endpoint: Endpoint


@transaction.atomic
def create_endpoint(tenant, values):
    """Returns (endpoint, secret): the only time the secret leaves the hub through the API."""
    now = timezone.now()
    endpoint = Endpoint.objects.create(tenant=tenant, created_at=now, modified_at=now, **values)
    secret = generate_secret()
    EndpointSecret.objects.create(endpoint=endpoint, secret=secret, created_at=now)
    return endpoint, secret


def update_endpoint(endpoint, values, version):
    """Apply a change only on the current version (compare-and-swap); a stale or missing version is a Conflict."""
    if version is None or version != endpoint.version:
        return Conflict(endpoint)
    now = timezone.now()
    if "enabled" in values and values["enabled"]:
        values = {**values, "disabled_reason": "", **circuit_reset()}  # a fresh start: clock stopped, circuit closed
    updated = Endpoint.objects.filter(pk=endpoint.pk, version=version).update(version=F("version") + 1, modified_at=now, **values)
    endpoint.refresh_from_db()
    return endpoint if updated else Conflict(endpoint)


@transaction.atomic
def rotate_secret(endpoint):
    """A new Standard Webhooks secret for the endpoint; the previous ones keep signing for 24 h. Returns the new
    secret. An endpoint signed only Emporix's way is then signed both ways."""
    now = timezone.now()
    standard = endpoint.secrets.exclude(secret__startswith=EMPORIX_KEY_PREFIX)  # an Emporix key is its config's to change
    standard.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now + ROTATED_SECRET_GRACE)).update(expires_at=now + ROTATED_SECRET_GRACE)
    secret = generate_secret()
    EndpointSecret.objects.create(endpoint=endpoint, secret=secret, created_at=now)
    Endpoint.objects.filter(pk=endpoint.pk).update(modified_at=now)
    return secret


@transaction.atomic
def set_emporix_key(endpoint, secret_key, *, instead=False):
    """Sign the endpoint Emporix's way with `secret_key` (none: no longer). `instead`: it is then signed only so (its
    Standard Webhooks secrets go; for an endpoint made by an Emporix configuration). An endpoint left with no secret
    gets a Standard Webhooks one: nothing is ever sent unsigned."""
    now = timezone.now()
    endpoint.secrets.filter(secret__startswith=EMPORIX_KEY_PREFIX).delete()
    if secret_key:
        if instead:
            endpoint.secrets.all().delete()
        EndpointSecret.objects.create(endpoint=endpoint, secret=emporix_key(secret_key), created_at=now)
    elif not _current_secrets(now).filter(endpoint=endpoint).exists():
        EndpointSecret.objects.create(endpoint=endpoint, secret=generate_secret(), created_at=now)


def _current_secrets(now):
    return EndpointSecret.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def signing_secrets(endpoint, now=None):
    now = now or timezone.now()
    return [s.secret for s in _current_secrets(now).filter(endpoint=endpoint)]


def signing_secrets_by_endpoint(endpoint_ids, now=None) -> dict:
    """{endpoint_id: [secret, ...]} for many endpoints in one query (the worker signs a whole batch)."""
    now = now or timezone.now()
    secrets = {}
    for endpoint_id, secret in _current_secrets(now).filter(endpoint_id__in=set(endpoint_ids)).values_list("endpoint_id", "secret"):
        secrets.setdefault(endpoint_id, []).append(secret)
    return secrets


def delete_endpoint(endpoint):
    endpoint.delete()

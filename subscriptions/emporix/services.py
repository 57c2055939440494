"""Writes of Emporix webhook configurations. Each maps onto eventhub endpoints in one transaction: one endpoint per
eventsConfiguration entry (its event type, its JsonPath filter as an eventFilter, its excludedFields) and one for the
root destinationUrl, which gets the subscribed types no entry names. So the endpoints API, the dashboard and the
config API show one state; a write through the config API re-applies the whole configuration to its endpoints."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from subscriptions import selectors
from subscriptions.emporix.config import Entry, HttpConfig
from subscriptions.endpoints import services as endpoint_services
from subscriptions.models import EmporixConfig, EmporixTarget, Endpoint

__all__ = ["ConfigActive", "ConfigConflict", "ConfigExists", "create_config", "delete_config", "known_event_types",
           "merged_headers", "replace_config"]


class ConfigExists(Exception):
    """POST of a configuration the tenant has (one per provider)."""


class ConfigActive(Exception):
    """DELETE of an active configuration without ?force=true."""


class ConfigConflict(Exception):
    """An endpoint of the configuration changed through the endpoints API while this write ran."""


def known_event_types(tenant) -> dict:
    """{lower-case key: key} of the types the tenant sees: config.catalog_key reads PRODUCT.CREATED with it."""
    keys = selectors.visible_event_types(tenant).values_list("key", flat=True)
    known = {}
    for key in keys:
        known.setdefault(key.lower(), key)
    return known


def merged_headers(root: dict, own: dict) -> dict:
    """An entry's headers over the root's; names compare without case, as HTTP's do."""
    names = {name.lower() for name in own}
    return {**{name: value for name, value in root.items() if name.lower() not in names}, **own}


@transaction.atomic
def create_config(tenant, config: HttpConfig) -> EmporixConfig:
    now = timezone.now()
    try:
        with transaction.atomic():
            row = EmporixConfig.objects.create(tenant=tenant, code=config.code, created_at=now, modified_at=now,
                                               **_root_values(config))
    except IntegrityError:
        raise ConfigExists(f"The tenant has a configuration '{config.code}'; change it with PUT or PATCH.") from None
    _apply(row, config)
    return row


@transaction.atomic
def replace_config(tenant, config: HttpConfig) -> EmporixConfig:
    """PUT: the configuration becomes `config`, created if the tenant has none of its code."""
    row = EmporixConfig.objects.select_for_update().filter(tenant=tenant, code=config.code).first()
    if row is None:
        return create_config(tenant, config)
    for name, value in _root_values(config).items():
        setattr(row, name, value)
    row.modified_at = timezone.now()
    row.save()
    _apply(row, config)
    return row


@transaction.atomic
def delete_config(tenant, code: str, force: bool) -> None:
    """Remove the configuration and its endpoints; an active one only with force. None to remove is no error."""
    row = EmporixConfig.objects.select_for_update().filter(tenant=tenant, code=code).first()
    if row is None:
        return
    if row.active and not force:
        raise ConfigActive(f"The configuration '{code}' is active: deactivate it first, or delete with ?force=true.")
    Endpoint.objects.filter(emporix_target__config=row).delete()
    row.delete()


def _root_values(config: HttpConfig) -> dict:
    return {"active": config.active, "destination_url": config.destination_url, "secret_key": config.secret_key,
            "headers": config.headers}


def _apply(row: EmporixConfig, config: HttpConfig) -> None:
    """Make the configuration's endpoints what `config` says: update those it keeps, create the new, delete the rest."""
    targets = {target.entry_id: target for target in row.targets.select_related("endpoint")}
    wanted = [(None, *_root_target(row, config))] if config.destination_url else []
    for position, entry in enumerate(config.entries, start=1):
        entry_id = uuid.UUID(entry.id) if entry.id else uuid.uuid4()
        wanted.append((entry_id, *_entry_target(row, config, entry, position)))
    for entry_id, endpoint_values, target_values, key in wanted:
        target = targets.pop(entry_id, None)
        if target is None:
            endpoint, _ = endpoint_services.create_endpoint(row.tenant, endpoint_values)
            endpoint_services.set_emporix_key(endpoint, key, instead=True)
            EmporixTarget.objects.create(config=row, endpoint=endpoint, entry_id=entry_id, **target_values)
            continue
        result = endpoint_services.update_endpoint(target.endpoint, endpoint_values, target.endpoint.version)
        if isinstance(result, endpoint_services.Conflict):
            raise ConfigConflict("An endpoint of this configuration was changed meanwhile; send the request again.")
        endpoint_services.set_emporix_key(target.endpoint, key)
        for name, value in target_values.items():
            setattr(target, name, value)
        target.save()
    Endpoint.objects.filter(pk__in=[target.endpoint_id for target in targets.values()]).delete()


def _description(row, what: str) -> str:
    return f"Emporix configuration '{row.code}': {what}"


def _root_target(row, config: HttpConfig):
    keys = sorted({entry.event_key for entry in config.entries})
    endpoint_values = {
        "url": config.destination_url, "method": "POST", "headers": config.headers, "events": ["*"],
        # The types an entry names go to their entries only, as Emporix sends them.
        "event_filter": {"type": {"$nin": keys}} if keys else None, "excluded_fields": None,
        "enabled": config.active, "description": _description(row, "destinationUrl (types no entry names)"),
    }
    return endpoint_values, {"position": 0}, config.secret_key


def _entry_target(row, config: HttpConfig, entry: Entry, position: int):
    endpoint_values = {
        "url": entry.destination_url or config.destination_url, "method": "POST",
        "headers": merged_headers(config.headers, entry.headers), "events": [entry.event_key],
        "event_filter": entry.event_filter, "excluded_fields": entry.excluded_fields,
        "enabled": config.active and entry.active, "description": _description(row, entry.name or entry.event_type),
    }
    target_values = {
        "position": position, "name": entry.name, "event_type": entry.event_type, "filter": entry.filter or "",
        "destination_url": entry.destination_url, "secret_key": entry.secret_key, "headers": entry.headers,
        "active": entry.active,
    }
    return endpoint_values, target_values, entry.secret_key or config.secret_key

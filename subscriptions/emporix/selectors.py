"""Reads of Emporix webhook configurations, in Emporix's shapes. What an endpoint holds is the truth: a URL, headers or
an enabled flag changed through the endpoints API (or the hub disabling a failing endpoint) shows here too."""

from __future__ import annotations

from subscriptions.emporix.services import merged_headers
from subscriptions.models import EmporixConfig

__all__ = ["config_body", "config_document", "configs"]


def configs(tenant):
    return EmporixConfig.objects.filter(tenant=tenant).prefetch_related("targets__endpoint").order_by("code")


def config_body(row: EmporixConfig, header_values: bool) -> dict:
    """The configuration as Emporix's GET answers it (ConfigurationGet): secret keys only as secretKeyExists; header
    values only for `header_values` (a token that may change the configuration), else {} per header name."""
    root, entries = _root_and_entries(row)
    configuration = {}
    url, headers = _root_url_and_headers(row, root)
    if url:
        configuration["destinationUrl"] = url
    configuration["secretKeyExists"] = bool(row.secret_key)
    configuration["headers"] = _headers(headers, header_values)
    configuration["eventsConfiguration"] = [_entry_body(row, t, header_values) for t in entries]
    return {"code": row.code, "provider": "HTTP", "active": row.active, "configuration": configuration}


def config_document(row: EmporixConfig) -> dict:
    """The configuration in its update form (WebhookConfigUpdate), secret keys included: what a PATCH changes.
    Never sent to anyone."""
    root, entries = _root_and_entries(row)
    url, headers = _root_url_and_headers(row, root)
    configuration = {"headers": _headers(headers, True), "eventsConfiguration": [_entry_document(row, t) for t in entries]}
    if url:
        configuration["destinationUrl"] = url
    if row.secret_key:
        configuration["secretKey"] = row.secret_key
    return {"provider": "HTTP", "active": row.active, "configuration": configuration}


def _root_and_entries(row):
    targets = list(row.targets.all())
    root = next((t for t in targets if t.entry_id is None), None)
    return root, [t for t in targets if t.entry_id is not None]


def _root_url_and_headers(row, root):
    if root is None:
        return row.destination_url, row.headers
    return root.endpoint.url, root.endpoint.headers


def _headers(headers: dict, values: bool) -> dict:
    return {name: {"value": value} if values else {} for name, value in (headers or {}).items()}


def _own(row, target):
    """(destinationUrl, headers) the entry has of its own: what it was given, or what its endpoint now holds when
    that was changed apart from the configuration."""
    endpoint = target.endpoint
    url = target.destination_url
    if endpoint.url != (target.destination_url or row.destination_url):
        url = endpoint.url
    headers = target.headers
    if endpoint.headers != merged_headers(row.headers, target.headers):
        headers = endpoint.headers
    return url, headers


def _entry_document(row, target) -> dict:
    url, headers = _own(row, target)
    entry = {"id": str(target.entry_id), "eventType": target.event_type, "active": _active(row, target)}
    if target.name:
        entry["name"] = target.name
    if url:
        entry["destinationUrl"] = url
    if target.secret_key:
        entry["secretKey"] = target.secret_key
    if headers:
        entry["headers"] = _headers(headers, True)
    if target.filter:
        entry["filter"] = target.filter
    if target.endpoint.excluded_fields is not None:
        entry["excludedFields"] = list(target.endpoint.excluded_fields)
    return entry


def _entry_body(row, target, header_values: bool) -> dict:
    entry = _entry_document(row, target)
    entry.pop("secretKey", None)
    entry["destinationUrl"] = target.endpoint.url  # where it goes, inherited or not
    entry["secretKeyExists"] = bool(target.secret_key or row.secret_key)
    if "headers" in entry:
        entry["headers"] = _headers(_own(row, target)[1], header_values)
    return entry


def _active(row, target) -> bool:
    # While the configuration is active, an entry is active when its endpoint is enabled (it may have been
    # disabled through the endpoints API or by the hub); while it is not, the entry's own flag is shown.
    return target.endpoint.enabled if row.active else target.active

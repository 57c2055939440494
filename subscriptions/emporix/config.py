"""An Emporix webhook configuration as its API writes it (WebhookConfigCreation, WebhookConfigUpdate), read into
plain values and checked whole: every problem is named with its place (`configuration.eventsConfiguration[1].filter`).
Only the HTTP provider is served; properties Emporix's schema does not name are ignored, as it allows."""

from __future__ import annotations

from dataclasses import dataclass, field

from subscriptions.delivery.sender import TargetError, validate_headers, validate_target_url
from subscriptions.emporix.jsonpath import MAX_FILTER_LENGTH, JsonPathError, translate

__all__ = ["CODES", "ConfigProblems", "Entry", "HttpConfig", "MAX_ENTRIES", "MAX_HEADERS", "catalog_key", "read_config"]

CODES = {"HTTP": "http", "SVIX": "svix", "SVIX_SHARED": "svix_shared"}  # provider -> the code of its configuration
MAX_HEADERS = 10  # Emporix's limit for each headers map
MAX_ENTRIES = 100  # eventsConfiguration entries, each an endpoint
MAX_KEY = 256
NOT_SERVED = ("The {provider} provider is not served: eventhub is a self-hosted hub and delivers webhooks itself. "
              "Use provider HTTP (code 'http').")


@dataclass
class Entry:
    """One eventsConfiguration entry; empty destination_url, secret_key and headers inherit the root's."""

    event_type: str  # as written (PRODUCT.CREATED)
    event_key: str  # the catalog's (product.created)
    id: str | None = None
    name: str = ""
    destination_url: str = ""
    secret_key: str = ""
    headers: dict = field(default_factory=dict)
    filter: str = ""
    event_filter: dict | None = None
    excluded_fields: list | None = None  # None: the event subscription's
    active: bool = True


@dataclass
class HttpConfig:
    code: str
    active: bool
    destination_url: str = ""
    secret_key: str = ""
    headers: dict = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)


class ConfigProblems(ValueError):
    """Every problem of a configuration: {place: [message, ...]}, the detail of a 400."""

    def __init__(self, problems: dict):
        super().__init__("; ".join(f"{k}: {v[0]}" for k, v in problems.items()))
        self.problems = problems


def catalog_key(event_type: str, known: dict) -> str | None:
    """The catalog's key for an event type as Emporix writes it in a configuration (PRODUCT.CREATED), or None.
    `known` maps each visible key's lower case to the key."""
    return known.get(event_type.lower())


class _Reader:
    def __init__(self, known_types: dict, known_ids: set | None, allow_private: bool):
        self.known_types = known_types
        self.known_ids = known_ids  # None: a new configuration, where an entry may not bring an id
        self.allow_private = allow_private
        self.problems: dict[str, list[str]] = {}

    def problem(self, place: str, message: str):
        self.problems.setdefault(place, []).append(message)

    def string(self, data: dict, name: str, place: str, limit: int, default: str = "") -> str:
        value = data.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(place, f"Expected a string but got {type(value).__name__}.")
            return default
        if len(value) > limit:
            self.problem(place, f"Longer than {limit} characters.")
        return value

    def boolean(self, data: dict, name: str, place: str, default: bool) -> bool:
        value = data.get(name, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(place, f"Expected true or false but got {type(value).__name__}.")
            return default
        return value

    def url(self, data: dict, place: str) -> str:
        value = self.string(data, "destinationUrl", place, 2048)
        if value:
            try:
                return validate_target_url(value, allow_private=self.allow_private)
            except TargetError as exc:
                self.problem(place, str(exc))
        return value

    def headers(self, data: dict, place: str) -> dict:
        value = data.get("headers")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(place, "Expected an object of name: {\"value\": \"...\"}.")
            return {}
        if len(value) > MAX_HEADERS:
            self.problem(place, f"{len(value)} headers; at most {MAX_HEADERS} are allowed.")
            return {}
        plain = {}
        for name, item in value.items():
            if not isinstance(item, dict) or not isinstance(item.get("value", ""), str):
                self.problem(f"{place}.{name}", "Expected {\"value\": \"...\"}.")
                continue
            plain[name] = item.get("value", "")
        try:
            return validate_headers(plain)
        except TargetError as exc:
            self.problem(place, str(exc))
            return {}


def read_config(body, *, code: str | None, known_types: dict, known_ids: set | None = None,
                allow_private: bool = False) -> HttpConfig:
    """The HTTP configuration `body` describes, or ConfigProblems. `code`: the path's code on update (None: the body
    must name it, on create); `known_ids`: the entry ids the stored configuration has (None on create)."""
    reader = _Reader(known_types, known_ids, allow_private)
    if not isinstance(body, dict):
        raise ConfigProblems({"": ["The body must be a JSON object."]})
    provider = body.get("provider")
    if provider in ("SVIX", "SVIX_SHARED"):
        raise ConfigProblems({"provider": [NOT_SERVED.format(provider=provider)]})
    if provider != "HTTP":
        raise ConfigProblems({"provider": ["Required: one of HTTP, SVIX, SVIX_SHARED (eventhub serves HTTP)."]})
    given = body.get("code", code) if code is None else code
    if code is None and "code" not in body:
        reader.problem("code", "Required.")
    elif given != CODES["HTTP"]:
        reader.problem("code", "The code of an HTTP configuration is 'http' (a tenant has one per provider).")
    configuration = body.get("configuration") or {}
    if not isinstance(configuration, dict):
        raise ConfigProblems({"configuration": ["Expected an object."]})
    config = HttpConfig(
        code=CODES["HTTP"],
        active=reader.boolean(body, "active", "active", True),
        destination_url=reader.url(configuration, "configuration.destinationUrl"),
        secret_key=reader.string(configuration, "secretKey", "configuration.secretKey", MAX_KEY),
        headers=reader.headers(configuration, "configuration.headers"),
        entries=_entries(reader, configuration.get("eventsConfiguration")),
    )
    if not config.destination_url:
        for index, entry in enumerate(config.entries):
            if not entry.destination_url:
                reader.problem(f"configuration.eventsConfiguration[{index}].destinationUrl",
                               "Required, as the configuration has no destinationUrl to inherit.")
    if reader.problems:
        raise ConfigProblems(reader.problems)
    return config


def _entries(reader: _Reader, items) -> list[Entry]:
    place = "configuration.eventsConfiguration"
    if items is None:
        return []
    if not isinstance(items, list):
        reader.problem(place, "Expected a list of entries.")
        return []
    if len(items) > MAX_ENTRIES:
        reader.problem(place, f"{len(items)} entries; at most {MAX_ENTRIES} are allowed.")
        return []
    entries, seen = [], set()
    for index, item in enumerate(items):
        entry = _entry(reader, item, f"{place}[{index}]")
        if entry is None:
            continue
        if entry.id is not None:
            if entry.id in seen:
                reader.problem(f"{place}[{index}].id", f"The id '{entry.id}' is given twice.")
            seen.add(entry.id)
        entries.append(entry)
    return entries


def _entry(reader: _Reader, item, place: str) -> Entry | None:
    if not isinstance(item, dict):
        reader.problem(place, "Expected an object.")
        return None
    entry_id = item.get("id")
    if entry_id is not None:
        if not isinstance(entry_id, str):
            reader.problem(f"{place}.id", "Expected a string.")
        elif reader.known_ids is None:
            reader.problem(f"{place}.id", "The server assigns entry ids: omit id when creating an entry.")
        elif entry_id not in reader.known_ids:
            reader.problem(f"{place}.id", f"No entry has the id '{entry_id}'; omit id to add an entry.")
    event_type = reader.string(item, "eventType", f"{place}.eventType", 200)
    key = catalog_key(event_type, reader.known_types) if event_type else None
    if item.get("eventType") is None:
        reader.problem(f"{place}.eventType", "Required.")
    elif event_type and key is None:
        reader.problem(f"{place}.eventType", f"'{event_type}' is no event type of the catalog.")
    text = reader.string(item, "filter", f"{place}.filter", MAX_FILTER_LENGTH)
    try:
        event_filter = translate(text) if len(text) <= MAX_FILTER_LENGTH else None
    except JsonPathError as exc:
        reader.problem(f"{place}.filter", str(exc))
        event_filter = None
    return Entry(
        event_type=event_type, event_key=key or "", id=entry_id if isinstance(entry_id, str) else None,
        name=reader.string(item, "name", f"{place}.name", 255),
        destination_url=reader.url(item, f"{place}.destinationUrl"),
        secret_key=reader.string(item, "secretKey", f"{place}.secretKey", MAX_KEY),
        headers=reader.headers(item, f"{place}.headers"),
        filter=text, event_filter=event_filter, excluded_fields=_excluded(reader, item, f"{place}.excludedFields"),
        active=reader.boolean(item, "active", f"{place}.active", True),
    )


def _excluded(reader: _Reader, item: dict, place: str) -> list | None:
    value = item.get("excludedFields")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 200:
        reader.problem(place, "Expected a list of at most 200 field names.")
        return None
    if not all(isinstance(name, str) and name.strip() and len(name) <= 200 for name in value):
        reader.problem(place, "Only non-blank top-level field names (strings) are allowed.")
        return None
    return list(dict.fromkeys(value))

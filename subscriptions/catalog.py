"""The built-in event catalog: every event type from the seed documents, declared once in catalog_data/*.json.

Everything else (the subscriptions API, the dashboard, the pipeline) reads event types from the database rows
that `sync_catalog` keeps equal to these files.
"""

import json
from functools import lru_cache
from pathlib import Path

from django.db import transaction

from subscriptions.core.amqp import TypeRule, by_precedence
from subscriptions.core.changes import change_pair, change_pair_problem
from subscriptions.models import SCHEMA_TYPES, EventType

DATA_DIR = Path(__file__).resolve().parent / "catalog_data"
SOURCES = ("emporix", "entrecode", "codex", "openregister", "ceta", "eventhub")  # display order; eventhub: the hub's own (operational.py)

_FIELDS = ("source", "kind", "name", "group", "description", "event_schema", "example", "exchange", "routing_key", "app_id",
           "changes", "position")


class CatalogError(ValueError):
    pass


@lru_cache(maxsize=1)
def catalog_sources():
    """[{source, label, description, types: [...]}] in display order, validated."""
    sources = []
    for source in SOURCES:
        path = DATA_DIR / f"{source}.json"
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("source") != source:
            raise CatalogError(f"{path.name}: 'source' must be {source!r}")
        # The languages its names come in: "de" like the others, unless the source documents have none (then say so).
        languages = doc.get("languages", ["en", "de"])
        for entry in doc["types"]:
            where = f"{path.name}: {entry.get('key')!r}"
            validate_type_definition(entry, where=where)
            missing = [lang for lang in languages if lang not in entry["name"] or lang not in entry["group"]]
            if missing:
                raise CatalogError(f"{where}: no {', '.join(missing)} name or group (or declare the source's languages)")
        sources.append(doc)
    return tuple(sources)


def validate_type_definition(entry, where="event type"):
    key = entry.get("key")
    if not isinstance(key, str) or not key or len(key) > 200:
        raise CatalogError(f"{where}: key must be a non-empty string of at most 200 characters")
    for field in ("name", "group", "description"):
        strings = entry.get(field)
        if not isinstance(strings, dict) or not isinstance(strings.get("en"), str):
            raise CatalogError(f"{where}: {field} must be an object with at least an 'en' string")
    schema = entry.get("eventSchema")
    if not isinstance(schema, dict) or any(t not in SCHEMA_TYPES for t in schema.values()):
        raise CatalogError(f"{where}: eventSchema must map field names to one of {', '.join(SCHEMA_TYPES)}")
    if "changes" in entry:
        problem = change_pair_problem(entry["changes"])
        if problem:
            raise CatalogError(f"{where}: changes: {problem}")
        for side in ("new", "old"):
            root = entry["changes"][side].split(".")[0]
            if root not in schema:
                raise CatalogError(f"{where}: changes.{side} names '{root}', which is not in its eventSchema")
    for field in ("appId", "routingKey", "exchange"):
        if field in entry and (not isinstance(entry[field], str) or not entry[field]):
            raise CatalogError(f"{where}: {field} must be a non-empty string")
    typed_by = entry.get("typedBy")
    if typed_by is not None:
        if not isinstance(typed_by, dict) or not set(typed_by) <= {"appId", "withoutType", "routingKey", "bodyFields"}:
            raise CatalogError(f"{where}: typedBy holds appId, withoutType, routingKey and bodyFields")
        if typed_by.get("appId", entry.get("appId")) != entry.get("appId"):
            raise CatalogError(f"{where}: typedBy.appId must be the type's appId")
        if typed_by.get("routingKey") and not entry.get("routingKey"):
            raise CatalogError(f"{where}: typedBy.routingKey needs the type's routingKey form")
        fields = typed_by.get("bodyFields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) and f in schema for f in fields):
            raise CatalogError(f"{where}: typedBy.bodyFields must name fields of its eventSchema")
        if not (typed_by.get("appId") or typed_by.get("withoutType")):
            raise CatalogError(f"{where}: typedBy needs an appId or withoutType: true (a rule for every message is none)")


def builtin_definitions():
    """{key: model field values} for every built-in type, positions following the file order."""
    definitions = {}
    position = 0
    for doc in catalog_sources():
        for entry in doc["types"]:
            position += 1
            if entry["key"] in definitions:
                raise CatalogError(f"event type {entry['key']!r} is declared twice")
            definitions[entry["key"]] = {
                "source": doc["source"],
                "kind": entry.get("kind", "event"),
                "name": entry["name"],
                "group": entry["group"],
                "description": entry["description"],
                "event_schema": entry["eventSchema"],
                "example": entry.get("example"),
                "exchange": entry.get("exchange", ""),
                "routing_key": entry.get("routingKey", ""),
                "app_id": entry.get("appId", ""),
                "changes": entry.get("changes"),
                "position": position,
            }
    return definitions


@lru_cache(maxsize=1)
def builtin_change_pairs():
    """{key: ChangePair} of the built-in update types that declare where their new and old object sit."""
    return {key: change_pair(d["changes"]) for key, d in builtin_definitions().items() if d["changes"]}


@lru_cache(maxsize=1)
def type_rules():
    """The catalog's typing rules for broker messages (core.amqp.TypeRule), most specific first (amqp.by_precedence),
    as the dispatcher and the monitor's tap apply them."""
    rules = []
    for doc in catalog_sources():
        for entry in doc["types"]:
            typed_by = entry.get("typedBy")
            if typed_by:
                rules.append(TypeRule(
                    event_type=entry["key"],
                    app_id=typed_by.get("appId", ""),
                    without_type=bool(typed_by.get("withoutType")),
                    body_fields=tuple(typed_by.get("bodyFields", ())),
                    routing_key_form=entry["routingKey"] if typed_by.get("routingKey") else "",
                ))
    return by_precedence(rules)


@lru_cache(maxsize=1)
def builtin_keys():
    return frozenset(builtin_definitions())


def sync_catalog(using="default"):
    """Make the built-in EventType rows equal to the catalog files. Idempotent; returns what it changed."""
    definitions = builtin_definitions()
    with transaction.atomic(using=using):
        existing = {t.key: t for t in EventType.objects.using(using).filter(tenant__isnull=True)}
        created = [EventType(key=key, **values) for key, values in definitions.items() if key not in existing]
        changed = []
        for key, values in definitions.items():
            row = existing.get(key)
            if row is not None and any(getattr(row, f) != values[f] for f in _FIELDS):
                for f in _FIELDS:
                    setattr(row, f, values[f])
                changed.append(row)
        EventType.objects.using(using).bulk_create(created)
        EventType.objects.using(using).bulk_update(changed, list(_FIELDS))
    # Types dropped from the files are kept: deleting them would silently delete tenants' subscriptions.
    retired = sorted(set(existing) - set(definitions))
    return {"created": len(created), "updated": len(changed), "unchanged": len(definitions) - len(created) - len(changed), "retired": retired}

"""Emporix's partial update of a configuration: a list of {op: UPSERT | REMOVE, path, value} applied to the
configuration in its update form (WebhookConfigUpdate). Pure: a document in, a new document out; the result is then
checked whole, as a PUT is (config.read_config). Paths are the ones the spec's WebhookConfigPartialUpdate names."""

from __future__ import annotations

import copy
import uuid

from subscriptions.emporix.config import NOT_SERVED

__all__ = ["PatchConflict", "PatchProblem", "apply_operations", "keep_legacy_ids"]

HTTP = "/configuration/http/"
ROOT_FIELDS = {"headers": "headers", "destinationUrl": "destinationUrl", "secretKey": "secretKey"}
LEGACY_FIELDS = ("destinationUrl", "secretKey", "headers")
ENTRY_FIELDS = ("destinationUrl", "secretKey", "headers", "filter", "excludedFields", "name", "active")
MAX_OPERATIONS = 100


class PatchProblem(ValueError):
    """A 400: `place` names the operation's field (`[2].path`)."""

    def __init__(self, place: str, message: str):
        super().__init__(message)
        self.place = place


class PatchConflict(PatchProblem):
    """A 409: a legacy event-type path while several entries have that event type."""


def apply_operations(document: dict, operations) -> tuple[dict, set]:
    """(the document after every operation in order, the entry ids minted for the entries they add); PatchProblem
    or PatchConflict at the first operation that cannot apply."""
    if not isinstance(operations, list) or not operations:
        raise PatchProblem("", "The body must be a non-empty JSON list of {op, path, value}.")
    if len(operations) > MAX_OPERATIONS:
        raise PatchProblem("", f"{len(operations)} operations; at most {MAX_OPERATIONS} are allowed in one request.")
    document = copy.deepcopy(document)
    document.setdefault("configuration", {})
    minted: set = set()
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise PatchProblem(f"[{index}]", "Expected an object {op, path, value}.")
        op, path = operation.get("op"), operation.get("path")
        if op not in ("UPSERT", "REMOVE"):
            raise PatchProblem(f"[{index}].op", "Required: UPSERT or REMOVE.")
        if not isinstance(path, str):
            raise PatchProblem(f"[{index}].path", "Required: a path such as /configuration/http/destinationUrl.")
        if op == "UPSERT" and "value" not in operation:
            raise PatchProblem(f"[{index}].value", "UPSERT needs a value.")
        _apply(document, op, path, operation.get("value"), index, minted)
    return document, minted


def _apply(document: dict, op: str, path: str, value, index: int, minted: set) -> None:
    configuration = document["configuration"]
    upsert = op == "UPSERT"
    if path == "/active":
        if not upsert:
            raise PatchProblem(f"[{index}].op", "/active can only be set (UPSERT true or false).")
        document["active"] = value
    elif path == "/configuration":
        if upsert and not isinstance(value, dict):
            raise PatchProblem(f"[{index}].value", "Expected an object of configuration properties.")
        document["configuration"] = {**configuration, **value} if upsert else {}
    elif path.startswith("/configuration/svix"):
        raise PatchProblem(f"[{index}].path", NOT_SERVED.format(provider="SVIX"))
    elif path.startswith(HTTP) and path[len(HTTP):] in ROOT_FIELDS:
        _set(configuration, path[len(HTTP):], value, upsert)
    elif path == HTTP + "eventsConfiguration":
        if upsert and not isinstance(value, list):
            raise PatchProblem(f"[{index}].value", "Expected a list of entries.")
        configuration["eventsConfiguration"] = keep_legacy_ids(_entries(configuration), value) if upsert else []
    elif path.startswith(HTTP + "eventsConfiguration/"):
        _legacy(configuration, path[len(HTTP + "eventsConfiguration/"):], op, value, index, minted)
    elif path == HTTP + "eventsConfigurationEntry":
        if not upsert:
            raise PatchProblem(f"[{index}].op", "REMOVE needs an entry id: /configuration/http/eventsConfigurationEntry/{id}.")
        _entries(configuration).append(_new_entry(value, index, minted))
    elif path.startswith(HTTP + "eventsConfigurationEntry/"):
        _by_id(configuration, path[len(HTTP + "eventsConfigurationEntry/"):], op, value, index)
    else:
        raise PatchProblem(f"[{index}].path", f"'{path}' is not a path of the configuration that can be changed.")


def _set(target: dict, name: str, value, upsert: bool) -> None:
    if upsert:
        target[name] = value
    else:
        target.pop(name, None)


def _entries(configuration: dict) -> list:
    entries = configuration.get("eventsConfiguration")
    if not isinstance(entries, list):
        entries = configuration["eventsConfiguration"] = []
    return entries


def _new_entry(value, index: int, minted: set) -> dict:
    if not isinstance(value, dict):
        raise PatchProblem(f"[{index}].value", "Expected an entry object.")
    if "id" in value:
        raise PatchProblem(f"[{index}].value.id", "The server assigns entry ids: omit id when creating an entry.")
    return {**value, "id": _mint(minted)}


def _mint(minted: set) -> str:
    entry_id = str(uuid.uuid4())
    minted.add(entry_id)
    return entry_id


def keep_legacy_ids(stored: list, entries) -> list:
    """Entries as given, where an id-less one takes the id of the stored entry when both the stored and the given
    entries have exactly one of its event type (Emporix's rule for legacy payloads)."""
    if not isinstance(entries, list):
        return entries
    stored = [e for e in stored if isinstance(e, dict)]
    given = [e for e in entries if isinstance(e, dict)]

    def of_type(items, event_type):
        return [e for e in items if str(e.get("eventType", "")).lower() == event_type]

    result = []
    for entry in entries:
        if isinstance(entry, dict) and "id" not in entry and isinstance(entry.get("eventType"), str):
            event_type = entry["eventType"].lower()
            old, new = of_type(stored, event_type), of_type(given, event_type)
            if len(old) == 1 and len(new) == 1:
                entry = {**entry, "id": old[0]["id"]}
        result.append(entry)
    return result


def _legacy(configuration: dict, rest: str, op: str, value, index: int, minted: set) -> None:
    """/configuration/http/eventsConfiguration/{eventType}[/{field}]: the one entry of that event type."""
    event_type, _, name = rest.partition("/")
    if name and name not in LEGACY_FIELDS:
        raise PatchProblem(f"[{index}].path", f"'{name}' cannot be changed by event type; use eventsConfigurationEntry/{{id}}/{name}.")
    entries = _entries(configuration)
    matching = [e for e in entries if isinstance(e, dict) and str(e.get("eventType", "")).lower() == event_type.lower()]
    if len(matching) > 1:
        raise PatchConflict(f"[{index}].path", f"{len(matching)} entries have the event type '{event_type}'; "
                                               "address one by id: /configuration/http/eventsConfigurationEntry/{id}.")
    if name:
        if not matching:
            raise PatchProblem(f"[{index}].path", f"No entry has the event type '{event_type}'.")
        _set(matching[0], name, value, op == "UPSERT")
    elif op == "REMOVE":
        if not matching:
            raise PatchProblem(f"[{index}].path", f"No entry has the event type '{event_type}'.")
        entries.remove(matching[0])
    elif not isinstance(value, dict):
        raise PatchProblem(f"[{index}].value", "Expected an entry object.")
    elif matching:
        entries[entries.index(matching[0])] = {**value, "id": matching[0].get("id")}
    else:
        entries.append({"eventType": event_type, **value, "id": _mint(minted)})


def _by_id(configuration: dict, rest: str, op: str, value, index: int) -> None:
    entry_id, _, name = rest.partition("/")
    if name and name not in ENTRY_FIELDS:
        raise PatchProblem(f"[{index}].path", f"'{name}' is not a field of an entry ({', '.join(ENTRY_FIELDS)}).")
    entries = _entries(configuration)
    found = [e for e in entries if isinstance(e, dict) and e.get("id") == entry_id]
    if not found:
        raise PatchProblem(f"[{index}].path", f"No entry has the id '{entry_id}'.")
    entry = found[0]
    if not name:
        if op == "REMOVE":
            entries.remove(entry)
        elif not isinstance(value, dict) or "id" in value and value["id"] != entry_id:
            raise PatchProblem(f"[{index}].value", "Expected an entry object (its id, if given, the path's).")
        else:
            entries[entries.index(entry)] = {**value, "id": entry_id}
    elif name == "active" and (op == "REMOVE" or not isinstance(value, bool)):
        raise PatchProblem(f"[{index}].value", "active needs a value, true or false (UPSERT).")
    else:
        _set(entry, name, value, op == "UPSERT")

"""Broker messages as plain data: a pika delivery as a Message, its id, timestamp, body and type, and message ->
event conversion with reasons. Pure: no ORM, no pika. The dispatcher (broker/ingest.py) and dead-letter redrive
(broker/sources.py) load the rules (amqp.py) from the database and hand messages over; everything that decides what
a message becomes lives here, and the monitor shows a message's type and id with the same functions.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from eventhub import json_limits
from subscriptions.core.amqp import (
    MAX_ROUTING_KEY, TYPE_FROM_BODY_FIELD, TYPE_FROM_PROPERTY_OR_ROUTING_KEY,
    Rules, SourceRule, TypeRule,
)

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENT_ID = 200  # Event.event_id


# --- messages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A broker message: where it came from, its raw body and its AMQP properties (amqplib names, JSON-safe)."""

    exchange: str
    routing_key: str
    body: bytes
    properties: dict = field(default_factory=dict)


@dataclass(slots=True)  # one or more per message: treated as immutable, not frozen (a frozen init costs 3x)
class Converted:
    """What one message becomes for one tenant: an event (as IncomingEvent keyword arguments) or a reason."""

    tenant_id: int | None
    source_id: object
    event: dict | None = None
    reason: str | None = None


PROPERTY_NAMES = {  # pika BasicProperties attribute -> the name entrecode's amqplib messages use
    "content_type": "contentType",
    "content_encoding": "contentEncoding",
    "headers": "headers",
    "priority": "priority",
    "correlation_id": "correlationId",
    "reply_to": "replyTo",
    "expiration": "expiration",
    "message_id": "messageId",
    "timestamp": "timestamp",
    "type": "type",
    "user_id": "userId",
    "app_id": "appId",
    "cluster_id": "clusterId",
}


def message_from_delivery(method, properties, body: bytes) -> Message:
    """A message as pika delivers it (method, BasicProperties, body) -> Message. pika hands over a name that is not
    UTF-8 as bytes: it becomes text (bytes replaced), so matching can read it. Used by the dispatcher and the monitor."""
    return Message(_text(method.exchange), _text(method.routing_key), body, plain_properties(properties))


def _text(name) -> str:
    return name.decode("utf-8", errors="replace") if isinstance(name, bytes) else name


def plain_properties(props) -> dict:
    """pika BasicProperties (or any object with those attributes) -> a JSON-safe dict with amqplib names."""
    out = {}
    for attribute, name in PROPERTY_NAMES.items():
        value = getattr(props, attribute, None)
        if value is not None:
            out[name] = json_safe(value)
    mode = getattr(props, "delivery_mode", None)
    if mode is not None:
        out["persistent"] = mode == 2
    return out


def json_safe(value, depth=0):
    """AMQP field values (bytes, Decimal, datetime, nested tables) as JSON values."""
    if depth > 20:
        return None
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, depth + 1) for v in value]
    return str(value)


def message_id(message: Message) -> str:
    """The idempotency key: messageId, else a content hash, so a redelivered message is the same event."""
    given = message.properties.get("messageId")
    if isinstance(given, str) and given.strip():
        given = given.strip()
        if len(given) <= MAX_EVENT_ID:
            return given
        return "sha256:" + hashlib.sha256(given.encode()).hexdigest()
    digest = hashlib.sha256()
    for part in (message.exchange.encode(), message.routing_key.encode(), message.body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return "sha256:" + digest.hexdigest()


# Below this an AMQP timestamp counts as seconds (the spec), above it as milliseconds (JavaScript's Date.now()).
# 10^11 seconds is the year 5138; 10^11 milliseconds is March 1973.
MILLISECONDS_THRESHOLD = 10**11


def message_timestamp(value) -> dt.datetime | None:
    """The AMQP timestamp as an aware datetime: seconds or milliseconds (detected), a datetime, or None."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    seconds = value / 1000 if value >= MILLISECONDS_THRESHOLD else value
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


class Unconvertible(Exception):
    """The message cannot become an event; str(exc) is the reason recorded with the dead letter."""


# --- text the hub can store ---------------------------------------------------------------------
# What cannot be stored (a lone surrogate, a NUL, a number that is not finite) is refused at conversion by the one
# rule of json_limits (a dead letter naming where), so it never reaches the database, where it would fail a whole
# batch: on SQLite with an error no handler expected.


def unstorable_reason(value, where: str) -> str | None:
    """Why the JSON-like `value` cannot be stored, as a dead letter's reason ("body.id holds a lone surrogate ..."),
    or None."""
    problems = json_limits.unstorable(value, refuse_nul=True)
    if not problems:
        return None
    path, message = problems[0]
    return f"{json_limits.join_path(where, path)} {message[0].lower()}{message[1:]}"


def parse_body(message: Message, limit: int = MAX_BODY_BYTES) -> dict:
    """The body as a JSON object, or Unconvertible with the reason."""
    content_type = message.properties.get("contentType")
    if content_type:
        media = str(content_type).split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise Unconvertible(f"content type '{content_type}' is not JSON (application/json)")
    encoding = message.properties.get("contentEncoding")
    if encoding and str(encoding).lower() not in ("identity", "utf-8", "utf8"):
        raise Unconvertible(f"content encoding '{encoding}' is not supported")
    if len(message.body) > limit:
        raise Unconvertible(f"body is {len(message.body)} bytes, over the limit of {limit} bytes")
    try:
        text = message.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unconvertible(f"body is not UTF-8 (byte {exc.start})")
    try:
        data = json_limits.loads(text, refuse_nul=True)
    except json_limits.NestedTooDeeply as exc:
        raise Unconvertible(f"body is JSON nested too deeply (more than {exc.limit} levels)")
    except json_limits.Unstorable as exc:
        path, message = exc.problems[0]
        raise Unconvertible(f"{json_limits.join_path('body', path)} {message[0].lower()}{message[1:]}")
    except ValueError as exc:
        raise Unconvertible(f"body is not JSON: {exc}")
    if not isinstance(data, dict):
        raise Unconvertible(f"body is a JSON {_json_kind(data)}, not an object")
    return data


def _json_kind(value):
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def refuse_unstorable_envelope(message: Message):
    """Unconvertible when the routing key or the AMQP properties (stored with the event) hold what cannot be stored:
    strings in AMQP headers are UTF-8 but may hold NUL, and a header may be a float that is not finite."""
    problem = unstorable_reason(message.routing_key, "routing key") or unstorable_reason(message.properties, "properties")
    if problem:
        raise Unconvertible(problem)


def named_type(rule: SourceRule, message: Message, data: dict, known: frozenset[str]) -> str | None:
    """The type the message names per the source's type_from (before the known-types check), or None."""
    if rule.type_from == TYPE_FROM_BODY_FIELD:
        found = _field(data, rule.type_field)
        return found if isinstance(found, str) and found else None
    if rule.type_from == TYPE_FROM_PROPERTY_OR_ROUTING_KEY:
        given = message.properties.get("type")
        if isinstance(given, str) and given.strip():
            return given.strip()
    return _type_from_routing_key(message.routing_key, known) or None


def event_type_for(rule: SourceRule, message: Message, data: dict, known: frozenset[str],
                   type_rules: tuple[TypeRule, ...] = ()) -> str:
    """The event type: an appId rule of the catalog first (the appId says who sent it, whatever its type property
    holds), then per the source's type_from; a type unknown there is typed by the catalog's rules on the body's
    fields, then becomes the source's catch_all_type, then a rule on the routing key's form alone (entrecode's bare
    build start), else Unconvertible."""
    if rule.type_from != TYPE_FROM_BODY_FIELD:
        for type_rule in type_rules:
            if type_rule.app_id and type_rule.event_type in known and type_rule.matches(message, data):
                return type_rule.event_type
    candidate = named_type(rule, message, data, known)
    if candidate is None:
        if rule.type_from == TYPE_FROM_BODY_FIELD:
            raise Unconvertible(f"body field '{rule.type_field}' holds no event type")
        raise Unconvertible("no event type: no AMQP type property and an empty routing key")
    if candidate in known:
        return candidate
    shaped = [r for r in type_rules if not r.app_id and r.event_type in known and r.matches(message, data)]
    if shaped and shaped[0].body_fields:  # most body fields first: a message shaped like a build event
        return shaped[0].event_type
    if rule.catch_all_type:  # the source's own choice beats a guess from the routing key's form alone
        return rule.catch_all_type
    if shaped:
        return shaped[0].event_type
    raise Unconvertible(f"unknown event type '{candidate[:200]}' and the source has no catch-all type")


def shown_type(rule: SourceRule, message: Message, known: frozenset[str], body_limit: int = MAX_BODY_BYTES,
               type_rules: tuple[TypeRule, ...] = ()) -> str | None:
    """The type the live monitor shows for a raw message: the one the dispatcher records, else (a message it would
    dead-letter) the type the message names, if any. The body is read (up to `body_limit`) only when the source
    reads the type from it or the catalog's rules may look at its fields."""
    data = {}
    if rule.type_from == TYPE_FROM_BODY_FIELD or type_rules:
        try:
            data = parse_body(message, body_limit)
        except Unconvertible:
            if rule.type_from == TYPE_FROM_BODY_FIELD:
                return None
    try:
        return event_type_for(rule, message, data, known, type_rules)
    except Unconvertible:
        return named_type(rule, message, data, known)


def _type_from_routing_key(routing_key: str, known: frozenset[str]) -> str:
    # The last word, or a longer known suffix: entrecode's `{domain}.cmd.sendMail` carries the type cmd.sendMail.
    words = routing_key.split(".")
    for start in range(max(0, len(words) - 4), len(words) - 1):
        suffix = ".".join(words[start:])
        if suffix in known:
            return suffix
    return words[-1]


def _field(data: dict, path: str):
    value = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def convert(message: Message, rules: Rules, tenant_id: int | None = None, body_limit: int = MAX_BODY_BYTES) -> list[Converted]:
    """What the message becomes for each tenant whose source matches it (or for `tenant_id` only).

    Never empty: a message no source matches, or one whose body is unusable, yields reasons (dead letters).
    """
    sources = rules.matching_sources(message.exchange, message.routing_key)
    if tenant_id is not None:
        sources = [s for s in sources if s.tenant_id == tenant_id]
    if not sources:
        return [Converted(tenant_id, None, reason=f"no enabled source matches exchange '{message.exchange}' and routing key '{message.routing_key}'")]
    try:
        data = parse_body(message, body_limit)
        refuse_unstorable_envelope(message)
    except Unconvertible as exc:
        return [Converted(s.tenant_id, s.id, reason=str(exc)) for s in sources]
    event_id = message_id(message)
    timestamp = message_timestamp(message.properties.get("timestamp"))
    out = []
    for rule in sources:
        try:
            event_type = event_type_for(rule, message, data, rules.known_types.get(rule.tenant_id, frozenset()), rules.type_rules)
        except Unconvertible as exc:
            out.append(Converted(rule.tenant_id, rule.id, reason=str(exc)))
            continue
        event = {
            "type": event_type,
            "data": data,
            "id": event_id,
            "timestamp": timestamp,
            "origin": "broker",
            "source_id": rule.id,
            "routing_key": message.routing_key[:MAX_ROUTING_KEY],
            "properties": message.properties,
        }
        out.append(Converted(rule.tenant_id, rule.id, event=event))
    return out

"""Broker messages as plain data: AMQP topic matching, source rules, and message -> event conversion with reasons.

Pure: no ORM, no pika. The dispatcher (dispatch.py) and dead-letter redrive (sources.py) load the rules from the
database and hand messages over as `Message`; everything that decides what a message becomes lives here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from eventhub import json_limits

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENT_ID = 200  # Event.event_id
MAX_ROUTING_KEY = 255  # AMQP shortstr

EXCHANGE_TYPES = ("topic", "direct", "fanout")
TYPE_FROM_PROPERTY_OR_ROUTING_KEY = "property_or_routing_key"
TYPE_FROM_ROUTING_KEY = "routing_key"
TYPE_FROM_BODY_FIELD = "body_field"

# AMQP 0-9-1 exchange names: letters, digits, '-', '_', '.', ':' (at most 255).
EXCHANGE_NAME_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,255}$")
# A binding key word: '*', '#', or a run of anything but whitespace, '.', '*' and '#'.
BINDING_WORD_RE = re.compile(r"^(\*|#|[^\s.*#]+)$")
RESERVED_EXCHANGE_PREFIX = "eventhub."  # the hub's own exchanges (eventhub.dead)


# --- names and binding keys -------------------------------------------------------------------


def exchange_name_problem(name) -> str | None:
    """Why `name` cannot be a source's exchange, or None."""
    if not isinstance(name, str) or not EXCHANGE_NAME_RE.match(name):
        return "An exchange name holds 1 to 255 letters, digits, '-', '_', '.' or ':'."
    if name.startswith(RESERVED_EXCHANGE_PREFIX):
        return f"Exchange names starting with '{RESERVED_EXCHANGE_PREFIX}' belong to the hub."
    if name.startswith("amq.") and name != "amq.topic":
        return "Of the broker's own 'amq.' exchanges only amq.topic can be a source."
    return None


def binding_key_problem(key) -> str | None:
    """Why `key` is not an AMQP topic binding key (words separated by '.', each a literal, '*' or '#'), or None."""
    if not isinstance(key, str) or not key:
        return "A binding key is a non-empty string."
    if len(key.encode()) > MAX_ROUTING_KEY:
        return f"A binding key is at most {MAX_ROUTING_KEY} bytes long."
    for word in key.split("."):
        if not word:
            return f"'{key}' has an empty word: words are separated by single dots."
        if not BINDING_WORD_RE.match(word):
            return f"'{word}' in '{key}' is not a word, '*' or '#' ('*' and '#' stand alone between dots; no spaces)."
    return None


@lru_cache(maxsize=4096)
def _topic_regex(binding_key: str) -> re.Pattern:
    # Matched against "." + routing key, so every word carries its leading dot and '#' may take zero words.
    parts = []
    for word in binding_key.split("."):
        if word == "#":
            parts.append(r"(?:\.[^.]*)*")
        elif word == "*":
            parts.append(r"\.[^.]*")
        else:
            parts.append(r"\." + re.escape(word))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def topic_matches(binding_key: str, routing_key: str) -> bool:
    """AMQP topic semantics: '*' is exactly one word, '#' zero or more words, other words match literally."""
    if binding_key == "#":
        return True
    return _topic_regex(binding_key).match("." + routing_key) is not None


def binding_matches(exchange_type: str, binding_key: str, routing_key: str) -> bool:
    if exchange_type == "fanout":
        return True
    if exchange_type == "direct":
        return binding_key == routing_key
    return topic_matches(binding_key, routing_key)


# --- rules: the enabled sources and the event types each tenant knows --------------------------


@dataclass(frozen=True)
class SourceRule:
    id: object
    tenant_id: int
    exchange: str
    exchange_type: str
    binding_keys: tuple[str, ...]
    type_from: str = TYPE_FROM_PROPERTY_OR_ROUTING_KEY
    type_field: str = ""
    catch_all_type: str = ""

    def matches(self, exchange: str, routing_key: str) -> bool:
        if exchange != self.exchange:
            return False
        return any(binding_matches(self.exchange_type, key, routing_key) for key in self.binding_keys)


@lru_cache(maxsize=1024)
def _routing_key_form_regex(form: str) -> re.Pattern:
    # "{shortID}.{modelTitle}.{entryID}.entryCreated": a {placeholder} is one word, anything else is literal.
    words = [r"[^.]+" if re.fullmatch(r"\{[^{}.]+\}", w) else re.escape(w) for w in form.split(".")]
    return re.compile(r"\.".join(words) + r"\Z", re.DOTALL)


def routing_key_fits(form: str, routing_key: str) -> bool:
    """Does the routing key have the catalog's form ({placeholder} words stand for any one word)?"""
    return _routing_key_form_regex(form).match(routing_key) is not None


@dataclass(frozen=True)
class TypeRule:
    """How the catalog types a message whose `type` property does not name the event (catalog `typedBy`).

    A message matches when it has the `app_id` (if given), no `type` property (if `without_type`), a routing key of
    `routing_key_form` (if given) and every one of `body_fields`. entrecode's ec.tasks-api sends the task id as its
    type: every message of that appId is a cmd.startTask; deal.push's two commands differ by their fields; builds
    carry no type: buildFinished has result and buildID, and a bare platform object on a {platformType} key starts
    a build. Rules with an appId are tried before the type property, the others only for a type the catalog lacks.
    """

    event_type: str
    app_id: str = ""
    without_type: bool = False
    body_fields: tuple[str, ...] = ()
    routing_key_form: str = ""

    def matches(self, message: Message, data: dict) -> bool:
        if self.app_id and message.properties.get("appId") != self.app_id:
            return False
        if self.without_type and message.properties.get("type") not in (None, ""):
            return False
        if self.routing_key_form and not routing_key_fits(self.routing_key_form, message.routing_key):
            return False
        return all(name in data for name in self.body_fields)


def by_precedence(type_rules) -> tuple[TypeRule, ...]:
    """Most specific first: an appId before none, then more body fields before fewer, so a bare build start never
    shadows a build event whatever the catalog's order. event_type_for() takes the first that matches."""
    return tuple(sorted(type_rules, key=lambda r: (not r.app_id, -len(r.body_fields))))


@dataclass
class Rules:
    """Everything conversion needs: sources (in creation order), per tenant the event type keys it may use, and the
    catalog's typing rules (in catalog order, the first that matches wins)."""

    sources: list[SourceRule]
    known_types: dict[int, frozenset[str]]  # tenant id -> built-in and the tenant's own keys
    type_rules: tuple[TypeRule, ...] = ()
    _by_exchange: dict[str, list[SourceRule]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.type_rules = by_precedence(self.type_rules)
        for rule in self.sources:
            self._by_exchange.setdefault(rule.exchange, []).append(rule)

    def matching_sources(self, exchange: str, routing_key: str) -> list[SourceRule]:
        """The first matching source of each tenant (a tenant gets one event per message)."""
        found: dict[int, SourceRule] = {}
        for rule in self._by_exchange.get(exchange, ()):
            if rule.tenant_id not in found and rule.matches(exchange, routing_key):
                found[rule.tenant_id] = rule
        return list(found.values())

    def bindings(self) -> set[tuple[str, str, str]]:
        """(exchange, exchange_type, binding key) the work queue must be bound with."""
        out = set()
        for rule in self.sources:
            keys = ("",) if rule.exchange_type == "fanout" else rule.binding_keys
            out.update((rule.exchange, rule.exchange_type, key) for key in keys)
        return out


# --- messages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A broker message: where it came from, its raw body and its AMQP properties (amqplib names, JSON-safe)."""

    exchange: str
    routing_key: str
    body: bytes
    properties: dict = field(default_factory=dict)


@dataclass(frozen=True)
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

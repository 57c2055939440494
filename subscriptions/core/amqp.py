"""The broker's rules as plain data: exchange and binding-key validity, AMQP topic matching, a tenant's source
rules and the catalog's typing rules. Pure: no ORM, no pika. What a message becomes under these rules is in
messages.py; the dispatcher (broker/ingest.py), the dead-letter redrive and the monitor all read both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from subscriptions.core.messages import Message

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


def _bindings_matcher(exchange_type: str, binding_keys: tuple[str, ...]):
    """A function of a routing key: whether any of `binding_keys` routes it to the queue, by the exchange's type
    (fanout: every key; direct: a key equal to it; topic: topic_matches), with the topic keys' expressions joined into
    one, so a message costs one match whatever the number of keys (the dispatcher asks for every message and every
    source of its exchange)."""
    if exchange_type == "fanout" or (exchange_type == "topic" and "#" in binding_keys):
        return lambda routing_key: True
    if exchange_type == "direct":
        return frozenset(binding_keys).__contains__
    joined = re.compile("|".join(f"(?:{_topic_regex(key).pattern})" for key in binding_keys), re.DOTALL)
    return lambda routing_key: joined.match("." + routing_key) is not None


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
    _accepts: object = field(default=None, init=False, repr=False, compare=False)  # _bindings_matcher's

    def __post_init__(self):
        object.__setattr__(self, "_accepts", _bindings_matcher(self.exchange_type, self.binding_keys))

    def matches(self, exchange: str, routing_key: str) -> bool:
        return exchange == self.exchange and self._accepts(routing_key)


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

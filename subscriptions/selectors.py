"""Reads of the catalog and of tenant event subscriptions; the event and delivery log, and their search."""

from contextlib import contextmanager

from django.db.models import Lookup, Q

from subscriptions.models import EventSubscription, EventType


def visible_event_types(tenant):
    """Built-in types and the tenant's own, in catalog order."""
    return EventType.objects.filter(Q(tenant__isnull=True) | Q(tenant=tenant)).order_by("position", "key")


def find_event_type(tenant, key):
    if not isinstance(key, str):
        return None
    return visible_event_types(tenant).filter(key=key).first()


def change_pairs(tenant, keys):
    """{key: ChangePair} for those of `keys` whose type declares a change pair: built-in types from the catalog files
    (no query), the tenant's own types with one query, made only when `keys` holds a type that is not built in."""
    from subscriptions.catalog import builtin_change_pairs, builtin_keys
    from subscriptions.core.changes import change_pair

    builtin = builtin_change_pairs()
    pairs = {key: builtin[key] for key in keys if key in builtin}
    own = [key for key in keys if key not in builtin_keys()]
    if own:
        rows = EventType.objects.filter(tenant=tenant, key__in=own, changes__isnull=False).values_list("key", "changes")
        pairs.update((key, pair) for key, pair in ((key, change_pair(spec)) for key, spec in rows) if pair is not None)
    return pairs


def event_subscriptions(tenant, event_types=None, states=None):
    """[(EventType, EventSubscription | None)] for the tenant; states may include "NONE" (never subscribed)."""
    types = visible_event_types(tenant)
    if event_types:
        types = types.filter(key__in=event_types)
    subscriptions = {s.event_type_id: s for s in EventSubscription.objects.filter(tenant=tenant)}
    rows = [(t, subscriptions.get(t.id)) for t in types]
    if states:
        rows = [(t, s) for t, s in rows if (s.state if s else "NONE") in states]
    return rows


# --- the event and delivery log ---------------------------------------------------------------


def recent_events(tenant, event_type=None, text=None, reach=None):
    """The tenant's events, newest first, each with its deliveries (one extra query per page, not per event); `text`:
    only those whose body holds it, among the newest `reach` (events_containing; pass text_search_reach())."""
    from django.db.models import Prefetch

    from subscriptions.models import Delivery, Event

    events = Event.objects.filter(tenant=tenant)
    if event_type:
        events = events.filter(type=event_type)
    if text:
        events = events_containing(events, tenant, text, reach)
    deliveries = Delivery.objects.only(
        "id", "event_id", "endpoint_id", "url", "status", "attempt_count", "last_status_code", "last_error", "next_attempt_at"
    ).order_by("id")
    return events.prefetch_related(Prefetch("deliveries", queryset=deliveries))


def deliveries_log(tenant, endpoint_id=None, status=None, event_type=None, since=None, until=None, with_attempts=True,
                   event_id=None, webhook_id=None):
    """The tenant's deliveries, newest first, each with its attempts (unless a listing needs none): the one
    delivery-log filter of the API and the dashboard. `event_type` is an endpoint-style pattern (`*` any run of
    characters); since/until bound created_at; event_id and webhook_id are exact."""
    from subscriptions.models import Delivery

    deliveries = Delivery.objects.filter(tenant=tenant).select_related("endpoint")
    if endpoint_id:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    if event_id:
        deliveries = deliveries.filter(event__event_id=event_id)
    if webhook_id:
        deliveries = deliveries.filter(webhook_id=webhook_id)
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(_type_pattern_q(event_type))
    if since:
        deliveries = deliveries.filter(created_at__gte=since)
    if until:
        deliveries = deliveries.filter(created_at__lte=until)
    return deliveries.select_related("event").prefetch_related("attempts") if with_attempts else deliveries


def _type_pattern_q(pattern: str) -> Q:
    """The database's spelling of core.matching.pattern_matches: exact, a prefix (`product.*`), else a regex."""
    from subscriptions.core.matching import pattern_regex

    if "*" not in pattern:
        return Q(event_type=pattern)
    head, _, tail = pattern.partition("*")
    if not tail:
        return Q(event_type__startswith=head)
    return Q(event_type__regex=pattern_regex(pattern).pattern)


def delivery_search(text: str) -> Q:
    """A delivery by its number (#12), its webhook-id (msg_...) or its event's id, exactly as shown on its page: the
    search box of the dashboard's and the portal's delivery lists."""
    text = text.strip()
    condition = Q(webhook_id=text) | Q(event__event_id=text)
    if text.lstrip("#").isdigit() and len(text) <= 18:  # beyond that no row id, and PostgreSQL's bigint overflows
        condition |= Q(pk=int(text.lstrip("#")))
    return condition


# --- text in event bodies -----------------------------------------------------------------------

EVENT_TEXT_MIN = 3  # PostgreSQL's trigram index finds nothing shorter without reading every body
EVENT_TEXT_MAX = 200
# Without the text index (opt-in, PostgreSQL only: subscriptions/text_index.py) a search reads at most the tenant's
# newest events.
EVENT_TEXT_SCAN = 10_000
# On PostgreSQL a text whose trigrams are in most bodies can still read many: each statement of a search is stopped
# after this long, so one tenant's search never holds the database for the others.
EVENT_TEXT_TIMEOUT_MS = 3000


class SearchTooBroad(Exception):
    pass


@contextmanager
def bounded_text_search(text):
    """Run a text search's queries (the page and its count) inside this block: on PostgreSQL each is cancelled after
    EVENT_TEXT_TIMEOUT_MS, and SearchTooBroad is raised. Without `text`, or on SQLite (bounded by rows), nothing."""
    from django.db import OperationalError, connection, transaction

    if not text or connection.vendor != "postgresql":
        yield
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)", [f"{EVENT_TEXT_TIMEOUT_MS}ms"])
            before = cursor.fetchone()[0]
            yield
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "57014":  # query_canceled
            raise
        raise SearchTooBroad(f"Searching for this text took longer than {EVENT_TEXT_TIMEOUT_MS / 1000:g} s: give a longer or rarer text.") from None


def event_text_problem(text: str) -> str | None:
    """Why `text` cannot be searched for in event bodies, or None."""
    length = len(text.strip())
    if not EVENT_TEXT_MIN <= length <= EVENT_TEXT_MAX:
        return f"Search for {EVENT_TEXT_MIN} to {EVENT_TEXT_MAX} characters."
    return None


def events_containing(events, tenant, text: str, reach: int | None):
    """The events whose body (a key or a value in `data`) contains `text`, case-insensitively, among the tenant's
    newest `reach`, or (None) among all of them through PostgreSQL's text index: pass text_search_reach(), read once
    for the search so that what it says is what was searched. PostgreSQL reads the body's JSON text; SQLite its values
    and keys (case-insensitive for ASCII letters only), and None there means the newest EVENT_TEXT_SCAN: SQLite has no
    text index to read them all through. Check event_text_problem(text) first."""
    from django.db import connection
    from django.db.models import BooleanField, TextField
    from django.db.models.expressions import RawSQL
    from django.db.models.functions import Cast

    from subscriptions import text_index
    from subscriptions.models import Event

    if reach is None and not text_index.supported(connection):
        reach = EVENT_TEXT_SCAN
    pattern = "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if connection.vendor == "postgresql":
        holds = _ILike(Cast("data", TextField()), pattern)
        if reach is None:
            return events.filter(holds)
    else:
        holds = RawSQL(
            "EXISTS (SELECT 1 FROM json_tree(subscriptions_event.data) AS t "
            "WHERE t.atom LIKE %s ESCAPE '\\' OR (typeof(t.key) = 'text' AND t.key LIKE %s ESCAPE '\\'))",
            (pattern, pattern), output_field=BooleanField(),
        )
    newest = Event.objects.filter(tenant=tenant).order_by("-received_at", "-id").values("pk")[:reach]
    return events.filter(pk__in=newest).filter(holds)


def text_search_reach() -> int | None:
    """How many of a tenant's newest events a text search reads: None for all of them (the text index is ready)."""
    from django.db import connection

    from subscriptions import text_index

    return None if text_index.ready(connection) else EVENT_TEXT_SCAN


class _ILike(Lookup):
    """`lhs ILIKE rhs`: the form PostgreSQL's trigram index serves (Django's icontains wraps both sides in UPPER())."""

    lookup_name = "ilike"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", (*lhs_params, *rhs_params)

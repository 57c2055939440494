"""The delivery rows' side of sending: claim due deliveries under a lease (as Jobs that carry all a send needs),
then record what each attempt did (Attempt rows, the delivery's new state, the endpoint's health), in batches.

Claiming is one short transaction: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` so several workers share the
work; on SQLite the IMMEDIATE transaction mode serializes claimers. Synchronous: the worker calls these on its
database thread. What a status code means lives in subscriptions.core.retry.judge_attempt.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from eventhub.conf import hub_setting
from subscriptions.bulk import insert_rows
from subscriptions.core.retry import judge_attempt
from subscriptions.delivery import gate, postgres
from subscriptions.delivery.health import Tally, update_endpoint_health
from subscriptions.delivery.ordering import claimable_in_key_order
from subscriptions.delivery.sender import SendResult
from subscriptions.endpoints.services import signing_secrets_by_endpoint
from subscriptions.models import Attempt, Delivery, DeliveryStatus
from subscriptions.signals import (
    AttemptOutcome, announce, deliveries_attempted, endpoint_disabled, endpoint_failing, endpoint_recovered,
)

logger = logging.getLogger(__name__)

__all__ = ["Job", "Sent", "announced_after", "claim_due", "record_results"]


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each of its 18 fields through object.__setattr__
class Job:
    """A claimed delivery with all it needs to be sent, read in the claim (no query at send time). Treated as
    immutable; not frozen because a frozen dataclass' __init__ costs 4x as much, and one is made per delivery."""

    delivery_id: int
    tenant_id: int
    endpoint_id: object
    event_type: str
    attempt_number: int  # this try's number, 1-based
    method: str
    url: str
    body: bytes
    extra_headers: dict
    secrets: tuple
    timeout: float
    # The delivery's webhook-id, made with its row: the same on every retry; a replay is a new delivery, a new id.
    message_id: str
    stored_url: str = ""  # the delivery's recorded URL; updated only when the endpoint's URL has changed since
    content_type: str = "application/json"  # the delivery's, rendered with its body
    endpoint_failing: bool = True  # the endpoint's failing clock ran when it was claimed (unknown: assume it did)
    claim_key: tuple | None = None  # (next_attempt_at, id) as claimed: where the claiming worker's next claim may start
    retry_schedule: tuple | None = None  # the endpoint's (first try, then its retrySchedule); None: RETRY_SCHEDULE
    ordered: bool = False  # it has an order key: its result may free the next delivery of its key (delivery/ordering.py)


@dataclass(slots=True)  # one per send; treated as immutable (see Job)
class Sent:
    job: Job
    started_at: object  # datetime
    request_headers: dict
    result: SendResult


class ClaimRow(NamedTuple):
    """One due delivery as the claim reads it, with what its send needs from the endpoint (None: endpoint deleted)."""

    id: int
    tenant_id: int
    event_type: str
    body: str
    attempt_count: int
    url: str  # the URL recorded with the delivery
    endpoint_id: object
    endpoint_url: str | None
    endpoint_method: str | None
    endpoint_headers: dict | None
    endpoint_timeout: int | None
    endpoint_enabled: bool | None
    endpoint_disabled_reason: str | None
    webhook_id: str
    content_type: str  # the delivery's, rendered with its body
    endpoint_failing: bool | None  # its failing clock runs (a success must stop it)
    endpoint_retry_schedule: list | None  # seconds before each retry; None: the hub's
    endpoint_circuit: str | None  # its circuit breaker's state (delivery/gate.py)
    endpoint_rate_limit: int | None  # deliveries a second, all processes together
    claim_key: tuple | None = None  # (next_attempt_at, id) as claimed (PostgreSQL's claim reads it)
    ordered: bool = False  # it has an order key


CLAIM_FIELDS = (
    "id", "tenant_id", "event_type", "body", "attempt_count", "url", "endpoint_id", "endpoint__url", "endpoint__method",
    "endpoint__headers", "endpoint__timeout_seconds", "endpoint__enabled", "endpoint__disabled_reason", "webhook_id",
    "content_type", "endpoint__failing_since", "endpoint__retry_schedule", "endpoint__circuit_state", "endpoint__rate_limit",
    "order_key",
)  # fmt: skip  (ClaimRow's fields, in order; failing_since and order_key read as flags)

DELETED = "The endpoint was deleted; nothing was sent."
DISABLED = "The endpoint is disabled; nothing was sent."
DISABLED_BECAUSE = "The endpoint is disabled: "
CLAIM_MESSAGES = {"deleted": DELETED, "disabled": DISABLED, "disabled_because": DISABLED_BECAUSE}


def claim_due(limit: int, ids=None, skip_endpoints=(), after=None) -> list[Job]:
    """Lease up to `limit` due deliveries (none of `skip_endpoints`) and return them as Jobs. Deliveries whose
    endpoint is gone or disabled fail here, without a request. In the caller's transaction when there is one (the
    worker records its results and claims in one), else in its own. `after`: a claim_key; on PostgreSQL only
    deliveries past it are looked at (the index is read from there, not from the entries of rows already sent)."""
    now = timezone.now()
    margin = hub_setting("DELIVERY_LEASE_MARGIN_SECONDS")
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            claimed = postgres.claim(limit, ids, skip_endpoints, now, margin, CLAIM_MESSAGES, after)
            secrets = {row[0]: row[-1] for row in claimed}
            sendable = [ClaimRow._make(row[:-1]) for row in claimed if row[11]]
        else:
            sendable = [row for row in _claim_rows(limit, ids, skip_endpoints, now, margin) if row.endpoint_enabled]
            secrets = None
        if any(gate.gated(row) for row in sendable):  # a circuit not closed, or a rate limit: it decides what goes
            held = gate.hold_back(sendable, now, margin)
            sendable = [row for row in sendable if row.id not in held]
        if secrets is None:
            by_endpoint = signing_secrets_by_endpoint({row.endpoint_id for row in sendable}, now) if sendable else {}
            secrets = {row.id: by_endpoint.get(row.endpoint_id, ()) for row in sendable}
    return [_job(row, secrets[row.id]) for row in sendable]


def _claim_rows(limit, ids, skip_endpoints, now, margin) -> list[ClaimRow]:
    """The portable claim (SQLite: the IMMEDIATE transaction serializes claimers): select, then lease or fail."""
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=now), claimable_in_key_order(now)
    )
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    if skip_endpoints:
        due = due.exclude(endpoint_id__in=list(skip_endpoints))
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    # Plain tuples: model instances would cost more than the query on the hot path.
    rows = [ClaimRow._make(values[:15] + (values[15] is not None,) + values[16:19] + (None, values[19] is not None))
            for values in due.order_by("next_attempt_at", "id").values_list(*CLAIM_FIELDS)[:limit]]
    by_timeout: dict[int, list[int]] = {}
    unsendable: dict[str, list[int]] = {}
    for row in rows:
        if row.endpoint_id is None:
            unsendable.setdefault(DELETED, []).append(row.id)
        elif not row.endpoint_enabled:
            reason = row.endpoint_disabled_reason
            unsendable.setdefault(DISABLED_BECAUSE + reason if reason else DISABLED, []).append(row.id)
        else:
            by_timeout.setdefault(row.endpoint_timeout, []).append(row.id)
    for timeout, delivery_ids in by_timeout.items():
        Delivery.objects.filter(pk__in=delivery_ids).update(lease_until=now + timedelta(seconds=timeout + margin))
    for error, delivery_ids in unsendable.items():
        Delivery.objects.filter(pk__in=delivery_ids).update(
            status=DeliveryStatus.FAILED, last_error=error, finished_at=now, next_attempt_at=None, lease_until=None
        )
    return rows


def _job(row: ClaimRow, secrets) -> Job:
    return Job(
        delivery_id=row.id, tenant_id=row.tenant_id, endpoint_id=row.endpoint_id, event_type=row.event_type,
        attempt_number=row.attempt_count + 1, method=row.endpoint_method, url=row.endpoint_url, body=row.body.encode(),
        extra_headers=row.endpoint_headers or {}, secrets=tuple(secrets), timeout=float(row.endpoint_timeout),
        stored_url=row.url, message_id=row.webhook_id, content_type=row.content_type, endpoint_failing=bool(row.endpoint_failing),
        claim_key=row.claim_key, ordered=row.ordered,
        retry_schedule=None if row.endpoint_retry_schedule is None else (0, *row.endpoint_retry_schedule),
    )


RECORDED_FIELDS = ("status", "attempt_count", "next_attempt_at", "lease_until", "last_status_code", "last_error", "finished_at")


ATTEMPT_FIELDS = ("delivery_id", "started_at", "duration_ms", "request_headers", "status_code", "response_headers", "response_body", "error")


def _insert_attempts(attempts):
    """The portable path's biggest write, from plain tuples (no model instances), for the deliveries that still exist:
    one deleted while it was sent has nothing to record against, and its attempt's foreign key would fail the commit
    and with it the batch's other results (other tenants')."""
    at = ATTEMPT_FIELDS.index("delivery_id")
    kept = set(Delivery.objects.filter(pk__in=[row[at] for row in attempts]).values_list("pk", flat=True))
    insert_rows(Attempt, ATTEMPT_FIELDS, [row for row in attempts if row[at] in kept])


def _update_deliveries(deliveries):
    """One UPDATE per distinct outcome (typically one: succeeded at try 1 with 200), not bulk_update's
    CASE WHEN per row and field, which costs more to build than the HTTP request it records."""
    groups: dict[tuple, list[int]] = {}
    for job, values in deliveries:
        groups.setdefault(values, []).append(job.delivery_id)
    for values, ids in groups.items():
        Delivery.objects.filter(pk__in=ids).update(**dict(zip(RECORDED_FIELDS, values)))
    moved: dict[str, list[int]] = {}
    for job, _ in deliveries:
        if job.url != job.stored_url:  # the endpoint's URL changed since the delivery was recorded
            moved.setdefault(job.url, []).append(job.delivery_id)
    for url, ids in moved.items():
        Delivery.objects.filter(pk__in=ids).update(url=url)


def record_results(sent: list[Sent]) -> None:
    """The Attempt rows, the deliveries' new state, the endpoints' failing clocks, in the caller's transaction when
    there is one (the worker records and claims in one), else in its own; the announcements after the commit."""
    if not sent:
        return
    now = timezone.now()
    attempts, deliveries, outcomes = [], [], []  # plain tuples: model instances are built only for listeners
    tallies: dict[object, Tally] = {}
    gone: dict[object, str] = {}
    for item in sent:
        job, result = item.job, item.result
        verdict = judge_attempt(result, job.attempt_number, now, schedule=job.retry_schedule)
        attempts.append(
            (job.delivery_id, item.started_at, result.duration_ms, item.request_headers, result.status_code,
             result.headers, result.body, result.error)
        )
        final = verdict.status != DeliveryStatus.PENDING
        deliveries.append(
            (job, (verdict.status, job.attempt_number, verdict.next_attempt_at, None, result.status_code, verdict.error,
                   now if final else None))
        )
        outcomes.append(verdict.outcome)
        succeeded = verdict.status == DeliveryStatus.SUCCEEDED
        tally = tallies.get(job.endpoint_id)
        if tally is None and not (succeeded and not job.endpoint_failing):  # such a success changes nothing
            tally = tallies[job.endpoint_id] = Tally()
        if tally is not None:
            tally.clock_runs |= job.endpoint_failing
            tally.add(succeeded, verdict.error)
        if verdict.disable_reason:
            gone[job.endpoint_id] = verdict.disable_reason

    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            postgres.record(ATTEMPT_FIELDS, attempts, [(job.delivery_id, *values[:3], *values[4:],
                                                        job.url if job.url != job.stored_url else None) for job, values in deliveries])
        else:
            _insert_attempts(attempts)
            _update_deliveries(deliveries)
        health = update_endpoint_health(tallies, gone, now) if tallies or gone else None
    held = getattr(_held, "announcements", None)
    if held is not None:
        held.append(lambda: _announce(deliveries, attempts, outcomes, health))
    else:
        _announce(deliveries, attempts, outcomes, health)


_held = threading.local()


@contextmanager
def announced_after(transaction_block):
    """Run the block (the caller's transaction: record_results and claim_due in one), then, only if it did not
    raise, the announcements record_results made inside it: nothing is announced that was not committed."""
    _held.announcements = held = []
    try:
        with transaction_block:
            yield
    finally:
        _held.announcements = None
    for announcement in held:
        announcement()


def _announce(deliveries, attempts, outcomes, health):
    _log_outcomes(deliveries, attempts, outcomes)
    if deliveries_attempted.has_listeners():
        announce(deliveries_attempted, attempts=[
            AttemptOutcome(job.tenant_id, job.delivery_id, job.endpoint_id, job.event_type, job.url, job.message_id,
                           job.attempt_number, values[0], row[4], row[7], values[5], row[2], values[6], outcome)
            for (job, values), row, outcome in zip(deliveries, attempts, outcomes)
        ])
    if health is None:
        return
    for endpoint, reason in health.disabled:
        announce(endpoint_disabled, endpoint=endpoint, reason=reason)
    for endpoint, error in health.failing:
        announce(endpoint_failing, endpoint=endpoint, error=error)
    for endpoint in health.recovered:
        announce(endpoint_recovered, endpoint=endpoint)


def _log_outcomes(deliveries, attempts, outcomes):
    """A line per attempt that did not succeed (WARNING), or per success at DEBUG; with the ids as fields, so the
    JSON log (LOG_FORMAT=json) can be searched by event, delivery or endpoint. Never the body or a header."""
    debug = logger.isEnabledFor(logging.DEBUG)
    if not debug and not logger.isEnabledFor(logging.WARNING):
        return
    lines = [(job, values, row, outcome) for (job, values), row, outcome in zip(deliveries, attempts, outcomes)
             if debug or outcome != "succeeded"]
    if not lines:
        return
    # The event's public id is read here, for the lines written, not carried by every claimed job.
    event_ids = dict(Delivery.objects.filter(pk__in=[job.delivery_id for job, *_ in lines]).values_list("id", "event__event_id"))
    for job, values, row, outcome in lines:
        level = logging.DEBUG if outcome == "succeeded" else logging.WARNING
        status_code, error, event_id = row[4], values[5], event_ids.get(job.delivery_id)
        logger.log(
            level, "delivery %s of event %s to endpoint %s: %s after attempt %d (%s)",
            job.delivery_id, event_id, job.endpoint_id, outcome, job.attempt_number, status_code or error,
            extra={"event_id": event_id, "delivery_id": job.delivery_id, "endpoint_id": str(job.endpoint_id),
                   "tenant_id": job.tenant_id, "event_type": job.event_type, "attempt": job.attempt_number,
                   "outcome": outcome, "status_code": status_code, "error": error},
        )

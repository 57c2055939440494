"""What may go of what a claim took: the endpoint's circuit breaker and its rate limit, across all deliver processes.

The claim (claims.py; on PostgreSQL one statement) leases the due deliveries as before and reads, with each, its
endpoint's circuit state and rate limit. Only when one of them says so does this module write anything, inside the
claim's transaction:
- circuit not closed: the first claim to find the probe time passed turns the circuit half-open (one conditional
  UPDATE of the endpoint row, so two processes never both probe) and sends that endpoint's oldest claimed delivery
  alone; every other delivery of it waits until circuit_until (the probe's lease end, or the next probe time).
- rate limit: the endpoint row counts the deliveries claimed in the current second (rate_window, rate_count); a
  claim takes what is left of the second's allowance, row-locked, and the rest waits for the next second.
Waiting means: the lease is dropped and next_attempt_at set to when it may go, so no claim reads it before; it is
neither tried nor counted as a failure. Clocks: the processes' own (one machine, or synchronised ones).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from subscriptions.models import CircuitState, Delivery, Endpoint

CLOSED = CircuitState.CLOSED


def gated(row) -> bool:
    """Whether a claimed row's endpoint has a circuit not closed or a rate limit (the rest goes untouched)."""
    return row.endpoint_circuit != CLOSED or bool(row.endpoint_rate_limit)


def hold_back(rows, now, margin) -> set:
    """Of claimed rows (claims.ClaimRow, oldest first), the ids that may not go now; they are made to wait here."""
    by_endpoint: dict[object, list] = {}
    for row in rows:
        if gated(row):
            by_endpoint.setdefault(row.endpoint_id, []).append(row)
    waits: dict[object, list[int]] = {}  # until -> delivery ids
    for endpoint_id in sorted(by_endpoint, key=str):  # one lock order for every process
        its = by_endpoint[endpoint_id]
        first = its[0]
        if first.endpoint_circuit != CLOSED:
            probe_until = now + timedelta(seconds=first.endpoint_timeout + margin)
            until = _probe_or_wait(endpoint_id, now, probe_until)
            if until is PROBE:  # the probe goes alone, the others wait for its answer
                waits.setdefault(probe_until, []).extend(row.id for row in its[1:])
                its = its[:1]
            elif until is not None:
                waits.setdefault(until, []).extend(row.id for row in its)
                continue
        if first.endpoint_rate_limit:
            granted, next_window = _take_allowance(endpoint_id, len(its))
            if granted < len(its):
                waits.setdefault(next_window, []).extend(row.id for row in its[granted:])
    for until, ids in waits.items():
        Delivery.objects.filter(pk__in=ids).update(lease_until=None, next_attempt_at=until)
    return {delivery_id for ids in waits.values() for delivery_id in ids}


PROBE = object()


def _probe_or_wait(endpoint_id, now, probe_until):
    """PROBE when this claim took the probe (the circuit is then half-open until `probe_until`); None when the
    circuit closed meanwhile (all may go); else until when the endpoint's deliveries wait."""
    passed = Q(circuit_until__lte=now) | Q(circuit_until__isnull=True)
    if Endpoint.objects.filter(passed, pk=endpoint_id).exclude(circuit_state=CLOSED).update(
        circuit_state=CircuitState.HALF_OPEN, circuit_until=probe_until
    ):
        return PROBE
    state = Endpoint.objects.filter(pk=endpoint_id).values_list("circuit_state", "circuit_until").first()
    if state is None or state[0] == CLOSED:
        return None
    return state[1] if state[1] is not None and state[1] > now else probe_until


def _take_allowance(endpoint_id, wanted) -> tuple[int, object]:
    """(how many of `wanted` may go in the current second, when the next second starts), counted on the endpoint
    row under its lock (PostgreSQL: FOR UPDATE; SQLite: the claim's IMMEDIATE transaction). The second is read once
    the lock is held, and never goes back: a claim that waited for the lock counts in the second it got it."""
    row = Endpoint.objects.select_for_update().filter(pk=endpoint_id).values_list("rate_limit", "rate_window", "rate_count").first()
    window = timezone.now().replace(microsecond=0)
    if row is None or not row[0]:
        return wanted, window
    limit, current, count = row
    if current is not None and current >= window:
        window, used = current, count
    else:
        used = 0
    granted = max(0, min(wanted, limit - used))
    Endpoint.objects.filter(pk=endpoint_id).update(rate_window=window, rate_count=used + granted)
    return granted, window + timedelta(seconds=1)

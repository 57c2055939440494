"""An endpoint's health after a batch of attempts: the failing clock (disable after failing too long, or at once on
410 Gone) and the circuit breaker (open after consecutive failures, probe, close on a success).

The circuit, per endpoint (Endpoint.circuit_*; the claim's side is delivery/gate.py):
- closed: deliveries go. CIRCUIT_FAILURE_THRESHOLD failed attempts in a row open it for CIRCUIT_OPEN_SECONDS;
- open: its due deliveries wait (not tried, not failed) until circuit_until; then the first claim to reach one
  turns the circuit half-open and sends that one delivery, the probe;
- half-open: the probe's answer decides: a success closes the circuit and the waiting deliveries are due at once;
  a failure opens it again for twice as long (at most CIRCUIT_MAX_OPEN_SECONDS).
A success at any time closes it. Writes happen only when something changes: a healthy endpoint's successes cost
nothing here (the claim says whether its failing clock runs). Called inside record_results' transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import F
from django.db.models.functions import Coalesce

from eventhub.api import iso_ms
from eventhub.conf import hub_setting
from subscriptions.models import CircuitState, Delivery, DeliveryStatus, Endpoint


@dataclass
class Tally:
    """One endpoint's attempts in one recorded batch, in order."""

    clock_runs: bool = False  # its failing clock ran when claimed: a success must stop it (and close the circuit)
    succeeded: bool = False  # some attempt succeeded
    failures: int = 0  # failed attempts after the last success
    error: str = ""  # the last failed attempt's error

    def add(self, succeeded: bool, error: str):
        if succeeded:
            self.succeeded, self.failures = True, 0
        else:
            self.failures, self.error = self.failures + 1, error


@dataclass
class HealthChanges:
    """What the batch changed, to be announced after the commit."""

    disabled: list = field(default_factory=list)  # (Endpoint, reason)
    failing: list = field(default_factory=list)  # (Endpoint, error): the circuit opened
    recovered: list = field(default_factory=list)  # Endpoint: the circuit closed again


def update_endpoint_health(tallies: dict, gone: dict, now) -> HealthChanges:
    """Apply the batch's tallies (endpoint id -> Tally); `gone`: endpoint id -> reason to disable at once (410)."""
    changes = HealthChanges()
    healed = sorted((e for e, t in tallies.items() if t.succeeded and t.clock_runs), key=str)
    if healed:
        _heal(healed, tallies, now, changes)
    failing = sorted((e for e, t in tallies.items() if t.failures and not (t.succeeded and t.clock_runs)), key=str)
    for count in sorted({tallies[e].failures for e in failing}):
        Endpoint.objects.filter(pk__in=[e for e in failing if tallies[e].failures == count]).update(
            consecutive_failures=F("consecutive_failures") + count, failing_since=Coalesce("failing_since", now)
        )
    if failing:
        _trip(failing, tallies, now, changes)
    if failing or gone:
        changes.disabled = _disable(failing, gone, now)
    return changes


def _heal(endpoint_ids, tallies, now, changes):
    """A success stops the failing clock and closes an open circuit; the deliveries it held are due at once."""
    for count in sorted({tallies[e].failures for e in endpoint_ids}):  # failures after the batch's last success
        Endpoint.objects.filter(pk__in=[e for e in endpoint_ids if tallies[e].failures == count]).update(
            consecutive_failures=count, failing_since=now if count else None
        )
    for endpoint_id in Endpoint.objects.filter(pk__in=endpoint_ids).exclude(circuit_state=CircuitState.CLOSED).values_list("id", flat=True):
        if Endpoint.objects.filter(pk=endpoint_id).exclude(circuit_state=CircuitState.CLOSED).update(
            circuit_state=CircuitState.CLOSED, circuit_since=now, circuit_until=None, circuit_backoff=0
        ):
            Delivery.objects.filter(
                endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, next_attempt_at__gt=now, lease_until__isnull=True
            ).update(next_attempt_at=now)
            changes.recovered.append(Endpoint.objects.get(pk=endpoint_id))


def _trip(endpoint_ids, tallies, now, changes):
    """Open the circuit of a closed endpoint that reached the threshold; re-open a half-open one (its probe failed)
    for twice as long."""
    threshold = hub_setting("CIRCUIT_FAILURE_THRESHOLD")
    base, cap = hub_setting("CIRCUIT_OPEN_SECONDS"), hub_setting("CIRCUIT_MAX_OPEN_SECONDS")
    candidates = Endpoint.objects.filter(pk__in=endpoint_ids).exclude(circuit_state=CircuitState.OPEN)
    for endpoint_id, state, backoff, failures in candidates.values_list("id", "circuit_state", "circuit_backoff", "consecutive_failures"):
        if state == CircuitState.CLOSED and threshold and failures >= threshold:
            wait = base
        elif state == CircuitState.HALF_OPEN:
            wait = min(cap, max(base, backoff * 2))
        else:
            continue
        values = {"circuit_state": CircuitState.OPEN, "circuit_until": now + timedelta(seconds=wait), "circuit_backoff": wait}
        if state == CircuitState.CLOSED:
            values["circuit_since"] = now
        if Endpoint.objects.filter(pk=endpoint_id, circuit_state=state).update(**values) and state == CircuitState.CLOSED:
            changes.failing.append((Endpoint.objects.get(pk=endpoint_id), tallies[endpoint_id].error))


def _disable(failing, gone, now) -> list:
    """Disable on 410, or after failing without a success for DISABLE_AFTER_FAILING_SECONDS (5 days)."""
    limit = hub_setting("DISABLE_AFTER_FAILING_SECONDS")
    reasons = dict(gone)
    for endpoint_id, since in Endpoint.objects.filter(
        pk__in=failing, enabled=True, failing_since__lte=now - timedelta(seconds=limit)
    ).values_list("id", "failing_since"):
        reasons.setdefault(
            endpoint_id,
            f"Every delivery failed since {iso_ms(since)} (more than {_duration(limit)}); re-enable it once the receiver works.",
        )
    disabled = []
    for endpoint_id, reason in reasons.items():
        # The routing queryset bumps the tenant's routing version (enabled changed); version moves because the
        # resource changed.
        if Endpoint.objects.filter(pk=endpoint_id, enabled=True).update(
            enabled=False, disabled_reason=reason, modified_at=now, version=F("version") + 1
        ):
            disabled.append((Endpoint.objects.get(pk=endpoint_id), reason))
    return disabled


def circuit_reset() -> dict:
    """The fields that put an endpoint's health back to new (re-enabled by its owner)."""
    return {"failing_since": None, "consecutive_failures": 0, "circuit_state": CircuitState.CLOSED,
            "circuit_since": None, "circuit_until": None, "circuit_backoff": 0}


def _duration(seconds):
    if seconds % 86400 == 0:
        return f"{seconds // 86400} days"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds} seconds"


__all__ = ["HealthChanges", "Tally", "circuit_reset", "update_endpoint_health"]

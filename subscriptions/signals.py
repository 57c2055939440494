"""What the pipeline announces, after the commit that made it true. The live monitor and the delivery worker listen.

Receivers are called synchronously, from whatever thread committed (a web request, the dispatcher, the delivery
worker): they must return at once and never block or raise (send_robust is used and failures are logged).
"""

from typing import NamedTuple

from django.dispatch import Signal

# New events stored: tenant (Tenant), events (list[Event]), deliveries (int: Delivery rows created for them).
events_recorded = Signal()

# A worker's batch of HTTP attempts was recorded: attempts (list[AttemptOutcome], in the order they were recorded).
# One announcement per batch, of plain tuples: a model instance and a signal per attempt cost the worker ~9% of its
# CPU (bench/profiles/README.md).
deliveries_attempted = Signal()


class AttemptOutcome(NamedTuple):
    """One recorded attempt and the state it left its delivery in."""

    tenant_id: int
    delivery_id: int
    endpoint_id: object
    event_type: str
    url: str  # where it was sent
    webhook_id: str
    attempt: int  # this try's number: the delivery's attempt_count after it
    status: str  # the delivery's status after it: pending (a retry is due), succeeded or failed (given up)
    status_code: int | None  # the answer's, None when there was none
    error: str  # what went wrong with this try's request ("" when an answer came)
    last_error: str  # the delivery's last_error after it ("" on success)
    duration_ms: float
    finished_at: object  # datetime when the delivery ended with this try, else None
    outcome: str  # "succeeded" | "retrying" | "failed" (gave up)

# An endpoint was disabled by the hub (410 Gone, or failing for too long): endpoint (Endpoint), reason (str).
endpoint_disabled = Signal()

# The endpoint's circuit breaker opened (consecutive failures; delivery/circuit.py): endpoint (Endpoint), error (str,
# the last attempt's error).
endpoint_failing = Signal()

# The endpoint's circuit closed again after it had opened (a probe succeeded): endpoint (Endpoint).
endpoint_recovered = Signal()

# A broker message could not become an event: dead_letter (DeadLetter; its tenant may be None).
message_dead_lettered = Signal()


def announce(signal, **kwargs):
    """send_robust, logging a failing receiver instead of letting it break the sender."""
    import logging

    for receiver, response in signal.send_robust(sender=None, **kwargs):
        if isinstance(response, Exception):
            logging.getLogger(__name__).error("%r receiver %r failed: %r", signal, receiver, response)

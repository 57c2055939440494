"""What the pipeline announces, after the commit that made it true. The live monitor and the delivery worker listen.

Receivers are called synchronously, from whatever thread committed (a web request, the dispatcher, the delivery
worker): they must return at once and never block or raise (send_robust is used and failures are logged).
"""

from django.dispatch import Signal

# New events stored: tenant (Tenant), events (list[Event]), deliveries (int: Delivery rows created for them).
events_recorded = Signal()

# One HTTP attempt of a delivery finished: tenant_id (int), delivery (Delivery, updated), attempt (Attempt),
# outcome: "succeeded" | "retrying" | "failed" (gave up).
delivery_attempted = Signal()

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

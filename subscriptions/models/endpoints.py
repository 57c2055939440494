"""A tenant's webhook receivers and their signing secrets."""

import uuid

from django.db import models

from subscriptions.models.routing import RoutingQuerySet
from tenants.models import Tenant


class PayloadFormat(models.TextChoices):
    """How a delivered body is shaped (core/payloads.py)."""

    ENVELOPE = "envelope", "eventhub envelope {id, type, timestamp, tenant, data}"
    DATA = "data", "the producer's body itself"
    CLOUDEVENTS = "cloudevents", "CloudEvents 1.0, structured mode"


class CircuitState(models.TextChoices):
    """The endpoint's circuit breaker (delivery/circuit.py): closed sends; open holds its deliveries until a probe may
    go; half-open has one probe delivery in flight, whose answer closes the circuit or opens it for longer."""

    CLOSED = "closed", "closed"
    OPEN = "open", "open"
    HALF_OPEN = "half-open", "half-open"


class Endpoint(models.Model):
    """A webhook receiver of one tenant: where, how, which events, filtered and reshaped how."""

    ROUTING_FIELDS = frozenset({"tenant", "tenant_id", "url", "events", "event_filter", "custom_payload", "enabled",
                                "excluded_fields", "ordering"})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="endpoints")
    url = models.URLField(max_length=2048)
    method = models.CharField(max_length=8, default="POST")
    headers = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list)
    event_filter = models.JSONField(null=True, blank=True)
    custom_payload = models.JSONField(null=True, blank=True)
    # Top-level data fields this endpoint never gets, instead of the subscription's excludedFields; null: the
    # subscription's (an Emporix eventsConfiguration entry's excludedFields, where [] means none).
    excluded_fields = models.JSONField(null=True, blank=True)
    payload_format = models.CharField(max_length=16, choices=PayloadFormat.choices, default=PayloadFormat.ENVELOPE)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, default="")
    timeout_seconds = models.PositiveSmallIntegerField(default=15)
    version = models.PositiveIntegerField(default=1)
    failing_since = models.DateTimeField(null=True, blank=True)
    # Operator settings: at most rate_limit deliveries a second (all deliver processes together; null: unlimited);
    # retry_schedule: seconds before each retry instead of the hub's RETRY_SCHEDULE; ordering: {"key": JSON pointer},
    # deliveries whose events share the key's value are sent one at a time in event order.
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    retry_schedule = models.JSONField(null=True, blank=True)
    ordering = models.JSONField(null=True, blank=True)
    # The circuit breaker: consecutive failed attempts, the state and since when; circuit_until is, when open, the
    # time a probe may go and, when half-open, the end of the probe's lease; circuit_backoff the last open period.
    circuit_state = models.CharField(max_length=10, choices=CircuitState.choices, default=CircuitState.CLOSED)
    circuit_since = models.DateTimeField(null=True, blank=True)
    circuit_until = models.DateTimeField(null=True, blank=True)
    circuit_backoff = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # The rate limit's current one-second window and how many deliveries were claimed in it.
    rate_window = models.DateTimeField(null=True, blank=True)
    rate_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    objects = RoutingQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["tenant", "enabled"], name="endpoint_tenant_enabled"),
            # The claim leaves out endpoints whose circuit is not closed: few, read on every claim.
            models.Index(fields=["circuit_until"], name="endpoint_circuit_not_closed", condition=~models.Q(circuit_state="closed")),
        ]

    def __str__(self):
        return f"{self.tenant_id}:{self.url}"


class EndpointSecret(models.Model):
    """A signing secret. Rotation keeps the old one signing until expires_at, so receivers can switch calmly."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=300)  # "whsec_..." or an Emporix secret key (core/signing.py)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __repr__(self):  # never show the secret itself
        return f"<EndpointSecret {self.pk} of {self.endpoint_id}>"

    __str__ = __repr__

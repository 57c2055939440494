"""The pipeline's records: events as received, deliveries to endpoints, and each HTTP attempt."""

from django.db import models
from django.db.models import Q, signals
from django.db.models.base import ModelState

from subscriptions.core.changes import changes_of
from subscriptions.core.signing import new_webhook_id
from subscriptions.models.endpoints import Endpoint
from subscriptions.models.sources import Source
from tenants.models import Tenant


class EventOrigin(models.TextChoices):
    HTTP = "http", "HTTP ingest"
    BROKER = "broker", "broker"
    TEST = "test", "test event"
    HUB = "hub", "operational"  # the hub's own eventhub.* events (subscriptions/operational.py)


class Event(models.Model):
    """One event as the hub received it. (tenant, event_id) is the idempotency key: the same id twice is stored once."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: unique_event_id and event_tenant_received begin with it (each index costs every insert).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events", db_index=False)
    event_id = models.CharField(max_length=200)
    type = models.CharField(max_length=200)
    timestamp = models.DateTimeField()
    data = models.JSONField(default=dict)
    origin = models.CharField(max_length=8, choices=EventOrigin.choices, default=EventOrigin.HTTP)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    routing_key = models.CharField(max_length=255, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)  # AMQP properties, for the log and the monitor
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="unique_event_id")]
        indexes = [
            models.Index(fields=["tenant", "-received_at"], name="event_tenant_received"),
            models.Index(fields=["received_at"], name="event_received"),  # retention pruning
        ]

    def __str__(self):
        return f"{self.tenant_id}:{self.type} {self.event_id}"

    @classmethod
    def unsaved(cls, tenant, event_id, type, timestamp, data, origin, source_id, routing_key, properties, received_at):
        """A new, unsaved event, as Event(tenant=tenant, ...) makes it (a test compares the two), in a fifth of the time:
        the pipeline builds one per event it records, and Model.__init__ (10 µs) sets each value through its field's
        descriptor and sends pre_init and post_init. Here the values go straight into the instance's __dict__ (2 µs),
        in _meta.concrete_fields' order; when a receiver listens to either signal for Event, the constructor runs."""
        values = (None, tenant.pk, event_id, type, timestamp, data, origin, source_id, routing_key, properties, received_at)
        if signals.pre_init.has_listeners(cls) or signals.post_init.has_listeners(cls):
            event = cls(*values)
        else:
            event = cls.__new__(cls)
            event._state = ModelState()
            event.__dict__.update(zip(_EVENT_ATTNAMES, values))
        cls.tenant.field.set_cached_value(event, tenant)
        return event

    def envelope(self, tenant_name, change_pair=None):
        """What the hub delivers: {id, type, timestamp, tenant, data}, plus `changed` when the type declares a change
        pair (core.changes.ChangePair; see selectors.change_pairs)."""
        from eventhub.api import iso_ms

        envelope = {"id": self.event_id, "type": self.type, "timestamp": iso_ms(self.timestamp), "tenant": tenant_name, "data": self.data}
        if change_pair is not None:
            envelope["changed"] = changes_of(self.data, change_pair)
        return envelope


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"  # due at next_attempt_at (first try or a retry)
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"  # gave up: a 4xx, retries exhausted, or the endpoint is gone


_EVENT_ATTNAMES = tuple(field.attname for field in Event._meta.concrete_fields)  # Event.unsaved's order


class Delivery(models.Model):
    """One event to one endpoint. The body is rendered when the event is recorded, so the log shows what was sent."""

    id = models.BigAutoField(primary_key=True)
    # The message's identity for receivers (the webhook-id header, "msg_" + a UUIDv7 in base32), made with the row and
    # kept across its retries; a replay is a new row, hence a new message. Not derived from the row id: that restarts
    # with every database (ids collide across installations) and counts the traffic.
    # Unique by a constraint (Meta), not unique=True: on PostgreSQL that would add a second, LIKE index nothing uses.
    webhook_id = models.CharField(max_length=40, default=new_webhook_id, editable=False)
    # No index of its own: delivery_tenant_created and delivery_tenant_status begin with it.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    # A removed endpoint keeps its log: the row stays, with the URL it was sent to.
    endpoint = models.ForeignKey(Endpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries",
                                 db_index=False)  # delivery_endpoint_created begins with it
    url = models.URLField(max_length=2048)
    event_type = models.CharField(max_length=200)
    body = models.TextField()
    # Rendered with the body (its format decides it), so a retry hours later says what the stored body is.
    content_type = models.CharField(max_length=64, default="application/json")
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # a worker holds it until then (at-least-once)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Ordered delivery (the endpoint's `ordering`, core/ordering.py): the key's value as bounded text, and the event's
    # timestamp; with the id, the order of a key's deliveries. Null: not ordered (the claim asks nothing more).
    order_key = models.CharField(max_length=65, null=True, blank=True)
    order_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["webhook_id"], name="delivery_webhook_id")]
        indexes = [
            # The worker's claim query touches only due rows, in the order it claims them (LIMIT reads no more).
            models.Index(fields=["next_attempt_at", "id"], name="delivery_due", condition=Q(status="pending")),
            models.Index(fields=["tenant", "-created_at"], name="delivery_tenant_created"),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_created"),
            models.Index(fields=["tenant", "status", "-created_at"], name="delivery_tenant_status"),
            # The claim's question for an ordered delivery: is an earlier one of its key still pending? Only ordered
            # pending rows are in it, so unordered traffic neither writes nor reads it.
            models.Index(fields=["endpoint", "order_key", "order_at", "id"], name="delivery_order_pending",
                         condition=Q(status="pending", order_key__isnull=False)),
        ]

    def __str__(self):
        return f"delivery {self.pk} {self.event_type} -> {self.url} ({self.status})"

class Attempt(models.Model):
    """One HTTP try of a delivery: what was sent, what came back (first 4 KiB), how long it took."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0)
    request_headers = models.JSONField(default=dict)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self):
        return f"attempt {self.pk} of delivery {self.delivery_id}: {self.status_code or self.error[:40]}"

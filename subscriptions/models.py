"""The event catalog (built-in and per-tenant event types) and tenant event subscriptions."""

import uuid

from django.db import models, transaction
from django.db.models import Q

from subscriptions.core import amqp
from subscriptions.core.changes import changes_of
from subscriptions.core.signing import new_webhook_id
from tenants.models import Tenant

SCHEMA_TYPES = ("String", "LocalizedString", "Integer", "Number", "Boolean", "Object", "Map", "Array")


class EventType(models.Model):
    """One kind of event. Built-in types (tenant is null) come from catalog.py; tenants may add their own."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="event_types")
    key = models.CharField(max_length=200)
    source = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, default="event")
    name = models.JSONField(default=dict)
    group = models.JSONField(default=dict)
    description = models.JSONField(default=dict)
    event_schema = models.JSONField(default=dict)
    example = models.JSONField(null=True, blank=True)
    exchange = models.CharField(max_length=200, blank=True, default="")
    routing_key = models.CharField(max_length=300, blank=True, default="")  # its form, e.g. {shortID}.{modelTitle}.{entryID}.entryCreated
    app_id = models.CharField(max_length=200, blank=True, default="")  # the AMQP appId its producer sets, when documented
    # Where an update event carries its new and its old object: {"new": path, "old": path} into data (core/changes.py).
    changes = models.JSONField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "key"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=Q(tenant__isnull=True), name="unique_builtin_event_type"),
            models.UniqueConstraint(fields=["tenant", "key"], condition=Q(tenant__isnull=False), name="unique_tenant_event_type"),
        ]

    def __str__(self):
        return self.key

    @property
    def is_builtin(self):
        return self.tenant_id is None


class SubscriptionState(models.TextChoices):
    SUBSCRIBED = "SUBSCRIBED"
    UNSUBSCRIBED = "UNSUBSCRIBED"


class RoutingQuerySet(models.QuerySet):
    """For the rows the routing index is built from (subscriptions, endpoints): an update() or bulk_create() that
    changes what routing reads bumps the tenants' RoutingVersion in the same transaction. save() and delete() do it
    through signals (subscriptions/routing_version.py); between them every writer is covered, the admin included."""

    def update(self, **values):
        if not self.model.ROUTING_FIELDS.intersection(values):
            return super().update(**values)  # e.g. the worker's failing_since: routing unchanged, the cache kept
        from subscriptions.pipeline.routing_version import bump_routing_version

        with transaction.atomic(using=self.db):
            tenant_ids = set(self.values_list("tenant_id", flat=True))  # before: the update may move rows out of the filter
            count = super().update(**values)
            if count:
                bump_routing_version(tenant_ids, using=self.db)
        return count

    def bulk_create(self, objs, *args, **kwargs):
        from subscriptions.pipeline.routing_version import bump_routing_version

        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            bump_routing_version({obj.tenant_id for obj in created}, using=self.db)
        return created


class EventSubscription(models.Model):
    """A tenant's choice for one event type. No row means NONE (never subscribed)."""

    ROUTING_FIELDS = frozenset({"tenant", "tenant_id", "event_type", "event_type_id", "state", "excluded_fields"})

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="event_subscriptions")
    event_type = models.ForeignKey(EventType, on_delete=models.CASCADE, related_name="subscriptions")
    state = models.CharField(max_length=16, choices=SubscriptionState.choices)
    excluded_fields = models.JSONField(default=list, blank=True)  # blank: the admin can save "none excluded"
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    objects = RoutingQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "event_type"], name="unique_event_subscription")]
        indexes = [models.Index(fields=["tenant", "state"], name="subscription_tenant_state")]

    def __str__(self):
        return f"{self.tenant_id}:{self.event_type_id} {self.state} v{self.version}"


class PayloadFormat(models.TextChoices):
    """How a delivered body is shaped (core/payloads.py)."""

    ENVELOPE = "envelope", "eventhub envelope {id, type, timestamp, tenant, data}"
    DATA = "data", "the producer's body itself"
    CLOUDEVENTS = "cloudevents", "CloudEvents 1.0, structured mode"


class Endpoint(models.Model):
    """A webhook receiver of one tenant: where, how, which events, filtered and reshaped how."""

    ROUTING_FIELDS = frozenset({"tenant", "tenant_id", "url", "events", "event_filter", "custom_payload", "enabled"})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="endpoints")
    url = models.URLField(max_length=2048)
    method = models.CharField(max_length=8, default="POST")
    headers = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list)
    event_filter = models.JSONField(null=True, blank=True)
    custom_payload = models.JSONField(null=True, blank=True)
    payload_format = models.CharField(max_length=16, choices=PayloadFormat.choices, default=PayloadFormat.ENVELOPE)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, default="")
    timeout_seconds = models.PositiveSmallIntegerField(default=15)
    version = models.PositiveIntegerField(default=1)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    objects = RoutingQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["tenant", "enabled"], name="endpoint_tenant_enabled")]

    def __str__(self):
        return f"{self.tenant_id}:{self.url}"


class EndpointSecret(models.Model):
    """A signing secret. Rotation keeps the old one signing until expires_at, so receivers can switch calmly."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __repr__(self):  # never show the secret itself
        return f"<EndpointSecret {self.pk} of {self.endpoint_id}>"

    __str__ = __repr__


class RoutingVersion(models.Model):
    """What a tenant's routing index was built from, as one value: replaced by every write to its subscriptions,
    endpoints or own event types (subscriptions/routing_version.py), so a cached index is current exactly when its
    version is. A random value, not a counter: concurrent writers need no read-modify-write, and the row is upserted."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="routing_version")
    version = models.UUIDField(default=uuid.uuid4)

    def __str__(self):
        return f"{self.tenant_id}: {self.version}"


# --- the pipeline: sources, events, deliveries, attempts, dead letters ---------------------------


class Source(models.Model):
    """A broker source of one tenant: a topic exchange, binding keys, and how an event's type is read."""

    class TypeFrom(models.TextChoices):
        # The values are core/amqp.py's, which applies them (amqp.named_type). "Last routing key segment" is short
        # for its rule: the last word, or a longer known suffix (entrecode's `{domain}.cmd.sendMail` is cmd.sendMail).
        PROPERTY_OR_ROUTING_KEY = amqp.TYPE_FROM_PROPERTY_OR_ROUTING_KEY, "AMQP type property, else last routing key segment"
        ROUTING_KEY = amqp.TYPE_FROM_ROUTING_KEY, "last routing key segment"
        BODY_FIELD = amqp.TYPE_FROM_BODY_FIELD, "a field of the JSON body"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=100)
    exchange = models.CharField(max_length=255)
    exchange_type = models.CharField(max_length=16, default="topic")
    binding_keys = models.JSONField(default=list)
    type_from = models.CharField(max_length=32, choices=TypeFrom.choices, default=TypeFrom.PROPERTY_OR_ROUTING_KEY)
    type_field = models.CharField(max_length=200, blank=True, default="")
    # Event type given to messages whose type is not in the catalog; empty: such messages are dead-lettered.
    catch_all_type = models.CharField(max_length=200, blank=True, default="")
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="unique_source_name")]

    def __str__(self):
        return f"{self.tenant_id}:{self.name} ({self.exchange})"


class EventOrigin(models.TextChoices):
    HTTP = "http", "HTTP ingest"
    BROKER = "broker", "broker"
    TEST = "test", "test event"


class Event(models.Model):
    """One event as the hub received it. (tenant, event_id) is the idempotency key: the same id twice is stored once."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events")
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


class Delivery(models.Model):
    """One event to one endpoint. The body is rendered when the event is recorded, so the log shows what was sent."""

    id = models.BigAutoField(primary_key=True)
    # The message's identity for receivers (the webhook-id header, "msg_" + a UUIDv7 in base32), made with the row and
    # kept across its retries; a replay is a new row, hence a new message. Not derived from the row id: that restarts
    # with every database (ids collide across installations) and counts the traffic.
    webhook_id = models.CharField(max_length=40, default=new_webhook_id, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    # A removed endpoint keeps its log: the row stays, with the URL it was sent to.
    endpoint = models.ForeignKey(Endpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The worker's claim query touches only due rows.
            models.Index(fields=["next_attempt_at"], name="delivery_due", condition=Q(status="pending")),
            models.Index(fields=["tenant", "-created_at"], name="delivery_tenant_created"),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_created"),
            models.Index(fields=["tenant", "status", "-created_at"], name="delivery_tenant_status"),
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


class DeadLetter(models.Model):
    """A broker message that could not become an event, kept with its reason so nothing is dropped silently."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="dead_letters")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="dead_letters")
    exchange = models.CharField(max_length=255, blank=True, default="")
    routing_key = models.CharField(max_length=255, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True, default="")  # as text (bounded); undecodable bytes are replaced
    body_size = models.PositiveIntegerField(default=0)
    reason = models.TextField()
    received_at = models.DateTimeField()
    redriven_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-received_at"], name="deadletter_tenant_received")]

    def __str__(self):
        return f"dead letter {self.pk}: {self.reason[:60]}"

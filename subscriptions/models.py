"""The event catalog (built-in and per-tenant event types) and tenant event subscriptions."""

import uuid

from django.db import models
from django.db.models import Q

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
    routing_key = models.CharField(max_length=300, blank=True, default="")
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


class EventSubscription(models.Model):
    """A tenant's choice for one event type. No row means NONE (never subscribed)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="event_subscriptions")
    event_type = models.ForeignKey(EventType, on_delete=models.CASCADE, related_name="subscriptions")
    state = models.CharField(max_length=16, choices=SubscriptionState.choices)
    excluded_fields = models.JSONField(default=list)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "event_type"], name="unique_event_subscription")]
        indexes = [models.Index(fields=["tenant", "state"], name="subscription_tenant_state")]

    def __str__(self):
        return f"{self.tenant_id}:{self.event_type_id} {self.state} v{self.version}"


class Endpoint(models.Model):
    """A webhook receiver of one tenant: where, how, which events, filtered and reshaped how."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="endpoints")
    url = models.URLField(max_length=2048)
    method = models.CharField(max_length=8, default="POST")
    headers = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list)
    event_filter = models.JSONField(null=True, blank=True)
    custom_payload = models.JSONField(null=True, blank=True)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, default="")
    timeout_seconds = models.PositiveSmallIntegerField(default=15)
    version = models.PositiveIntegerField(default=1)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

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

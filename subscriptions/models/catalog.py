"""The event catalog: built-in and per-tenant event types (catalog.py seeds the built-in ones)."""

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

"""The broker side: a tenant's sources, and the messages that could not become events."""

import uuid

from django.db import models

from subscriptions.core import amqp
from tenants.models import Tenant


class Source(models.Model):
    """A broker source of one tenant: a topic exchange, binding keys, and how an event's type is read."""

    class TypeFrom(models.TextChoices):
        # The values are core/amqp.py's, applied by core/messages.py (named_type). "Last routing key segment" is short
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

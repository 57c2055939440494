"""What routing is built from: a tenant's event subscriptions, and the one value that says when that changed."""

import uuid

from django.db import models, transaction

from subscriptions.models.catalog import EventType
from tenants.models import Tenant


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


class RoutingVersion(models.Model):
    """What a tenant's routing index was built from, as one value: replaced by every write to its subscriptions,
    endpoints or own event types (subscriptions/routing_version.py), so a cached index is current exactly when its
    version is. A random value, not a counter: concurrent writers need no read-modify-write, and the row is upserted."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="routing_version")
    version = models.UUIDField(default=uuid.uuid4)

    def __str__(self):
        return f"{self.tenant_id}: {self.version}"

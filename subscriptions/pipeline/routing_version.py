"""The per-tenant routing version: the one value the routing cache (pipeline.routing_index) keys on.

Every writer of what routing reads goes through here: model save() and delete() of EventSubscription, Endpoint and a
tenant's own EventType through the signals below (the Django admin, the API, the dashboard, cascades), and
queryset update()/bulk_create() through models.RoutingQuerySet. The bump runs in the writer's transaction, so the
new version and the new rows become visible together. A reader reads the version BEFORE the rows it builds from:
at worst it caches a newer index under an older version and rebuilds once more.
"""

from __future__ import annotations

import uuid

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save


def bump_routing_version(tenant_ids, using=DEFAULT_DB_ALIAS) -> None:
    """A new routing version for each tenant, one upsert for all."""
    from subscriptions.models import RoutingVersion

    rows = [RoutingVersion(tenant_id=tenant_id, version=uuid.uuid4()) for tenant_id in sorted(set(tenant_ids) - {None})]
    if rows:
        RoutingVersion.objects.using(using).bulk_create(rows, update_conflicts=True, unique_fields=["tenant"], update_fields=["version"])


def routing_version(tenant) -> object:
    """The tenant's current routing version (None before its first routing change), as the database gives it: a
    value to compare, read with one small query (the ORM's would cost more Python than the round trip)."""
    from subscriptions.models import RoutingVersion

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version FROM {RoutingVersion._meta.db_table} WHERE tenant_id = %s", [tenant.pk])
        row = cursor.fetchone()
    return row[0] if row else None


def _on_save(sender, instance, update_fields=None, using=DEFAULT_DB_ALIAS, raw=False, **kwargs):
    if update_fields is not None and not sender.ROUTING_FIELDS.intersection(update_fields):
        return  # a save of fields routing never reads
    bump_routing_version({instance.tenant_id}, using=using)


def _on_delete(sender, instance, using=DEFAULT_DB_ALIAS, origin=None, **kwargs):
    if not _tenant_goes(origin):
        bump_routing_version({instance.tenant_id}, using=using)


def _on_event_type_change(sender, instance, using=DEFAULT_DB_ALIAS, origin=None, **kwargs):
    # a tenant's own type; the built-in catalog changes only at migrate
    if instance.tenant_id is not None and not _tenant_goes(origin):
        bump_routing_version({instance.tenant_id}, using=using)


def _tenant_goes(origin) -> bool:
    """The delete cascades from a tenant's: its version row goes too, and a new one would point at no tenant."""
    from tenants.models import Tenant

    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    return model is Tenant


def connect():
    from subscriptions.models import Endpoint, EventSubscription, EventType

    for model in (EventSubscription, Endpoint):
        post_save.connect(_on_save, sender=model, dispatch_uid=f"routing_version.save.{model.__name__}")
        post_delete.connect(_on_delete, sender=model, dispatch_uid=f"routing_version.delete.{model.__name__}")
    post_save.connect(_on_event_type_change, sender=EventType, dispatch_uid="routing_version.save.EventType")
    post_delete.connect(_on_event_type_change, sender=EventType, dispatch_uid="routing_version.delete.EventType")

"""Subscriptions: the event catalog, tenant event subscriptions, and (later) endpoints and the delivery pipeline."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Event catalog and subscriptions"

    def ready(self):
        post_migrate.connect(_sync_catalog_after_migrate, sender=self)
        from subscriptions.pipeline import routing_version

        routing_version.connect()
        from subscriptions.emporix import limits

        limits.connect()
        from subscriptions import operational

        operational.connect()  # the hub's own eventhub.* events, recorded when their causes are announced


def _sync_catalog_after_migrate(sender, using="default", verbosity=1, **kwargs):
    # Every `migrate` (and every test database) gets the built-in catalog, so it is never missing.
    from subscriptions.catalog import sync_catalog

    result = sync_catalog(using=using)
    if verbosity >= 2:
        print(f"  catalog: {result}")

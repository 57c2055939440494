"""manage.py sync_catalog: bring the built-in event types in the database up to date (idempotent)."""

from django.core.management.base import BaseCommand

from subscriptions.catalog import sync_catalog


class Command(BaseCommand):
    help = "Create or update the built-in event types from subscriptions/catalog_data/. Safe to run any number of times."

    def handle(self, **options):
        result = sync_catalog()
        self.stdout.write(f"catalog: {result['created']} created, {result['updated']} updated, {result['unchanged']} unchanged")
        if result["retired"]:
            self.stderr.write(f"kept {len(result['retired'])} type(s) no longer in the catalog files: {', '.join(result['retired'])}")

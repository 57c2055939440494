"""manage.py prune [--days N] [--dry-run]: apply the data retention setting (EVENTHUB RETENTION_DAYS)."""

from django.core.management.base import BaseCommand, CommandError

from subscriptions.retention import prune


class Command(BaseCommand):
    help = ("Remove events (with their deliveries and attempts), dead letters and ended portal links older than the retention period. "
            "Events with a pending delivery are kept.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="keep this many days (default: EVENTHUB RETENTION_DAYS)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")

    def handle(self, days, dry_run, **options):
        try:
            result = prune(days=days, dry_run=dry_run)
        except ValueError as exc:
            raise CommandError(str(exc))
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(
            f"{verb} {result.events} events, {result.deliveries} deliveries, {result.dead_letters} dead letters; "
            f"kept {result.kept_pending} old events with pending deliveries; {verb} {result.portal_links} portal links that ended"
        )

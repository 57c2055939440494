"""manage.py event_text_index [status|on|off]: the opt-in index that lets event text search read every body
(PostgreSQL; subscriptions/text_index.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from subscriptions import text_index
from subscriptions.selectors import EVENT_TEXT_SCAN


class Command(BaseCommand):
    help = ("Event text search reads each tenant's newest events unless PostgreSQL has this trigram index; with it, all of "
            "them. 'on' builds it without blocking ingest (every stored event then pays for it), 'off' drops it.")

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=["status", "on", "off"], default="status")

    def handle(self, action, **options):
        newest = f"each tenant's newest {EVENT_TEXT_SCAN:,} events"
        if not text_index.supported(connection):
            if action == "on":
                raise CommandError(f"{connection.vendor} has no text index: searches read {newest}.")
            self.stdout.write(f"no text index on {connection.vendor}: searches read {newest}")
            return
        if action == "on":
            self.stdout.write(f"building {text_index.INDEX} (CONCURRENTLY: ingest goes on; a large table takes a while) ...")
            try:
                changed = text_index.create(connection)
            except DatabaseError as exc:
                raise CommandError(f"the text index could not be built: {exc}".strip())
            self.stdout.write("built" if changed else "it was already built")
        elif action == "off":
            self.stdout.write("dropped" if text_index.drop(connection) else "there was no text index")
        state = text_index.state(connection)
        reach = "every event of the tenant" if state == text_index.READY else newest
        self.stdout.write(f"{text_index.INDEX}: {state}; searches read {reach}")

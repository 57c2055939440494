"""manage.py create_tenant NAME: create a tenant (idempotent)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.services import create_tenant, set_webhooks_limit


class Command(BaseCommand):
    help = "Create a tenant. The name is lower case: a letter, then letters, digits or '-' (2-63 characters)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--language", default="en", help="the tenant's default language (en, de, nl)")
        parser.add_argument("--languages", default="", help="the tenant's languages, comma-separated (e.g. en,de,fr): "
                            "Accept-Language picks among them; default: every language the catalog has")
        parser.add_argument("--webhooks-limit", default=None, help="webhooks sent for the tenant per calendar month "
                            "(Emporix's webhooksLimit; past it events are stored, not delivered); 'none' removes it. "
                            "Also changes an existing tenant's.")

    def handle(self, name, language, languages="", webhooks_limit=None, **options):
        try:
            tenant, created = create_tenant(name, language, languages.split(","))
            if webhooks_limit is not None:
                set_webhooks_limit(tenant, webhooks_limit)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages))
        self.stdout.write(f"tenant {tenant.name} {'created' if created else 'already exists'}")

"""manage.py create_tenant NAME: create a tenant (idempotent)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.services import create_tenant


class Command(BaseCommand):
    help = "Create a tenant. The name is lower case: a letter, then letters, digits or '-' (2-63 characters)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--language", default="en", help="the tenant's default language (en, de, nl)")
        parser.add_argument("--languages", default="", help="the tenant's languages, comma-separated (e.g. en,de,fr): "
                            "Accept-Language picks among them; default: every language the catalog has")

    def handle(self, name, language, languages="", **options):
        try:
            tenant, created = create_tenant(name, language, languages.split(","))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages))
        self.stdout.write(f"tenant {tenant.name} {'created' if created else 'already exists'}")

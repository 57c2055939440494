"""manage.py issue_token TENANT --scope S ...: print a bearer token alone on stdout, for scripts."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.services import issue_token


class Command(BaseCommand):
    help = "Issue an OAuth2 access token for TENANT with the given scopes and print it alone on stdout."

    def add_arguments(self, parser):
        parser.add_argument("tenant")
        parser.add_argument("--scope", action="append", required=True, dest="scopes", help="repeat for several scopes")
        parser.add_argument("--expires-in", type=int, default=None, help="lifetime in seconds (default: one year)")

    def handle(self, tenant, scopes, expires_in, **options):
        try:
            tenant_obj = Tenant.objects.get(name=tenant)
        except Tenant.DoesNotExist:
            raise CommandError(f"no tenant named '{tenant}'; create it with: manage.py create_tenant {tenant}")
        if expires_in is not None and expires_in <= 0:
            raise CommandError("--expires-in must be a positive number of seconds")
        try:
            token = issue_token(tenant_obj, scopes, expires_in)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages))
        self.stdout.write(token)

"""manage.py create_client TENANT --scope S ...: an OAuth2 client-credentials client; the secret is shown once."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.services import create_api_client


class Command(BaseCommand):
    help = "Create an OAuth2 client (client-credentials grant at /oauth/token) for TENANT. The secret is printed once."

    def add_arguments(self, parser):
        parser.add_argument("tenant")
        parser.add_argument("--scope", action="append", required=True, dest="scopes")
        parser.add_argument("--name", default="API client")

    def handle(self, tenant, scopes, name, **options):
        try:
            tenant_obj = Tenant.objects.get(name=tenant)
        except Tenant.DoesNotExist:
            raise CommandError(f"no tenant named '{tenant}'")
        try:
            _, client_id, secret = create_api_client(tenant_obj, scopes, name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages))
        self.stdout.write(f"client_id={client_id}\nclient_secret={secret}")
        self.stderr.write("Store the secret now: it is not shown again.")

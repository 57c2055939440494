"""manage.py serve: the hub in one process (ASGI server; later also the delivery worker and broker dispatch)."""

import secrets

import uvicorn
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from subscriptions.dispatch import start_in_background
from tenants.models import Role
from tenants.scopes import SCOPES
from tenants.services import add_member, create_tenant, ensure_user, issue_token

DEMO_TENANT = "demo"
DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = "Serve the hub (HTTP API, dashboard, websockets) with uvicorn. --demo also migrates and prints a login and a token."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--demo", action="store_true", help="migrate, create the demo tenant, admin user and an API token")
        parser.add_argument("--migrate", action="store_true", help="apply database migrations before serving")
        parser.add_argument("--no-dispatch", action="store_true", help="do not consume the broker in-process even when AMQP_URL is set")

    def handle(self, host, port, demo, migrate, no_dispatch=False, **options):
        if demo or migrate:
            call_command("migrate", interactive=False, verbosity=0)
        if demo:
            self.print_demo(host, port)
        dispatcher = None if no_dispatch else start_in_background()
        if dispatcher is not None:
            self.stdout.write("Consuming the broker in-process (AMQP_URL is set; --no-dispatch turns it off).")
        uvicorn.run("eventhub.asgi:application", host=host, port=port, lifespan="off", log_level="info", proxy_headers=True)
        if dispatcher is not None:
            dispatcher.stop_and_wait()  # commit and acknowledge the batch it holds

    def print_demo(self, host, port):
        with transaction.atomic():
            tenant, _ = create_tenant(DEMO_TENANT)
            password = secrets.token_urlsafe(12)
            user, created = ensure_user(DEMO_ADMIN, password, is_staff=True, is_superuser=True)
            add_member(tenant, user, Role.OWNER)
            token = issue_token(tenant, list(SCOPES))
        base = f"http://{host}:{port}"
        login = f"{DEMO_ADMIN} / {password}" if created else f"{DEMO_ADMIN} / (set at first start; change it with: python manage.py changepassword {DEMO_ADMIN})"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "eventhub is starting on its embedded default (SQLite, in-memory channel layer, events over HTTP).",
                    f"  API docs:     {base}/api/docs/",
                    f"  Admin:        {base}/admin/",
                    f"  Admin login:  {login}",
                    f"  Tenant:       {tenant.name}",
                    f"  API token:    {token}",
                    f"  Try:          curl -H 'Authorization: Bearer {token}' {base}/webhook/{tenant.name}/event-subscriptions",
                    "",
                ]
            )
        )

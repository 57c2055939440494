"""manage.py serve: the hub in one process (ASGI server and the delivery worker; later also broker dispatch)."""

import secrets

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.signals import setting_changed
from django.db import transaction

from subscriptions.broker.dispatch import start_in_background as start_dispatcher
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
        parser.add_argument("--no-bridge", action="store_true", help="do not tap the broker for the live monitor (run monitor_bridge instead)")
        parser.add_argument("--no-worker", action="store_true", help="do not deliver webhooks in this process (run `manage.py deliver`)")
        parser.add_argument("--no-dispatch", action="store_true", help="do not consume the broker in-process even when AMQP_URL is set")

    def handle(self, host, port, demo, migrate, no_bridge=False, no_worker=False, no_dispatch=False, **options):
        if demo or migrate:
            call_command("migrate", interactive=False, verbosity=0)
        if demo:
            allow_private_targets()
            self.print_demo(host, port)
        if settings.AMQP_URL and not no_bridge:
            from monitor.bridge import start_in_background

            start_in_background()
        dispatcher = None if no_dispatch else start_dispatcher()
        if dispatcher is not None:
            self.stdout.write("Consuming the broker in-process (AMQP_URL is set; --no-dispatch turns it off).")
        worker = None if no_worker else start_delivery_worker()
        try:
            uvicorn.run("eventhub.asgi:application", host=host, port=port, lifespan="off", log_level="info", proxy_headers=True)
        finally:
            if dispatcher is not None:
                dispatcher.stop_and_wait()  # commit and acknowledge the batch it holds
            if worker is not None:
                worker.stop()  # finish the requests in flight; leases cover whatever a hard stop interrupts
                worker.thread.join(timeout=10)

    def print_demo(self, host, port):
        with transaction.atomic():
            tenant, _ = create_tenant(DEMO_TENANT)
            password = secrets.token_urlsafe(12)
            user, created = ensure_user(DEMO_ADMIN, password, is_staff=True, is_superuser=True)
            add_member(tenant, user, Role.OWNER)
            token = issue_token(tenant, list(SCOPES))
        from dashboard import demo

        demo_base = demo.start(tenant, host, port)  # a built-in receiver and a little traffic to it
        base = f"http://{host}:{port}"
        login = f"{DEMO_ADMIN} / {password}" if created else f"{DEMO_ADMIN} / (set at first start; change it with: python manage.py changepassword {DEMO_ADMIN})"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "eventhub is starting on its embedded default (SQLite, in-memory channel layer, events over HTTP).",
                    f"  Dashboard:    {base}/login/",
                    f"  Login:        {login}",
                    f"  API docs:     {base}/api/docs/",
                    f"  Django admin: {base}/admin/",
                    f"  Tenant:       {tenant.name}",
                    f"  API token:    {token}",
                    f"  Try:          curl -H 'Authorization: Bearer {token}' {base}/webhook/{tenant.name}/event-subscriptions",
                    (f"  Demo traffic: two endpoints to the built-in receiver {demo_base}/demo/echo/ (one refuses on purpose);\n"
                     "                a few events now, then one every 20 s. Another port: --port 8001.") if demo_base else
                    "  Demo traffic: none with --port 0 (the receiver's address must be known beforehand).",
                    "",
                ]
            )
        )


def start_delivery_worker():
    from subscriptions.delivery.worker import start_in_background

    return start_in_background()


def allow_private_targets():
    """The demo delivers to receivers on this machine (localhost), which the SSRF guard refuses otherwise."""
    settings.EVENTHUB = {**settings.EVENTHUB, "ALLOW_PRIVATE_TARGETS": True}
    setting_changed.send(sender=None, setting="EVENTHUB", value=settings.EVENTHUB, enter=True)

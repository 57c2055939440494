"""Screenshots of every dashboard page at 1280x800, from a running hub with demo data.

    python docs/screenshots/make.py            # writes docs/screenshots/*.png

Starts the hub (uvicorn, in-process) on a temporary SQLite database, fills it with a believable hour of history,
then sets up the demo of `serve --demo` (its built-in receiver) and sends real traffic through the delivery worker,
logs in through the login page with Debian's headless chromium and saves one PNG per page next to this file. Each
page is also measured for clipped or overflowing elements (tests/browser/layout_check.js); a problem stops the run.
"""

import math
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PASSWORD = "screenshots-only"


def setup_django(data_dir):
    for name in ("DATABASE_URL", "AMQP_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ["EVENTHUB_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "eventhub.settings"
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop in this thread
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def seed():
    """A demo tenant with subscriptions, three endpoints, an hour of events and deliveries, a source and dead letters."""
    from django.utils import timezone

    from subscriptions.endpoints.services import create_endpoint
    from subscriptions.models import Attempt, DeadLetter, Delivery, DeliveryStatus, Event, Source
    from subscriptions.services import SubscriptionChange, apply_subscription_change
    from tenants.models import Role
    from tenants.services import add_member, create_tenant, ensure_user

    rng = random.Random(7)
    demo, _ = create_tenant("demo")
    staging, _ = create_tenant("staging")
    admin, _ = ensure_user("admin", PASSWORD, is_staff=True, is_superuser=True)
    add_member(demo, admin, Role.OWNER)
    add_member(staging, admin, Role.EDITOR)
    for name, role in (("maria", Role.EDITOR), ("sam", Role.VIEWER)):
        add_member(demo, ensure_user(name, PASSWORD)[0], role)
    for key in ("product.created", "product.updated", "product.deleted", "order.created", "order.status-changed", "customer.created"):
        apply_subscription_change(demo, SubscriptionChange(key, "SUBSCRIBE", fields_to_unsubscribe=("description",) if key == "product.created" else ()))

    shop = create_endpoint(demo, {"url": "https://shop.example.com/hooks/eventhub", "events": ["product.*"], "description": "Storefront cache invalidation",
                                  "custom_payload": {"productId": "/data/id", "kind": "/type"}, "headers": {"X-Team": "storefront"}})[0]
    erp = create_endpoint(demo, {"url": "https://erp.example.net/api/events", "events": ["order.*"], "event_filter": {"data.status": {"$in": ["PAID", "SHIPPED"]}},
                                 "description": "ERP order import"})[0]
    crm = create_endpoint(demo, {"url": "https://crm.example.org/webhooks/customers", "events": ["customer.*"], "description": "CRM sync"})[0]
    source = Source.objects.create(tenant=demo, name="commerce", exchange="commerce.events", binding_keys=["product.#", "order.#"],
                                   description="Emporix events relayed by the commerce bridge", created_at=timezone.now(), modified_at=timezone.now())

    now = timezone.now()
    events, deliveries, attempts = [], [], []
    for minute in range(60):
        load = int(18 + 10 * (1 + math.sin(minute / 9)) + rng.randint(0, 6))
        for n in range(load):
            at = now - timedelta(minutes=59 - minute, seconds=rng.randint(0, 59))
            kind = rng.choice(["product.created", "product.updated", "order.created", "customer.created"])
            events.append(Event(tenant=demo, event_id=f"evt-{minute}-{n}", type=kind, timestamp=at, data={"id": f"{kind[:4]}-{minute}-{n}"},
                                origin="broker", source=source, routing_key=kind, received_at=at))
    Event.objects.bulk_create(events, batch_size=500)
    targets = {"product": shop, "order": erp, "customer": crm}
    for event in Event.objects.filter(tenant=demo):
        endpoint = targets[event.type.split(".")[0]]
        failing = endpoint is crm and rng.random() < 0.35
        retrying = failing and event.received_at > now - timedelta(minutes=20)  # the recent failures are still retried
        status = DeliveryStatus.PENDING if retrying else DeliveryStatus.FAILED if failing else DeliveryStatus.SUCCEEDED
        deliveries.append(Delivery(tenant=demo, event=event, endpoint=endpoint, url=endpoint.url, event_type=event.type,
                                   body=f'{{"id":"{event.event_id}","type":"{event.type}","data":{{"id":"{event.data["id"]}"}}}}', status=status,
                                   attempt_count=(3 if retrying else 9) if failing else 1, last_status_code=503 if failing else 200,
                                   next_attempt_at=now + timedelta(minutes=rng.randint(5, 30)) if retrying else None,
                                   last_error="HTTP 503 Service Unavailable" if failing else "", created_at=event.received_at,
                                   finished_at=None if status == "pending" else event.received_at + timedelta(seconds=1)))
    Delivery.objects.bulk_create(deliveries, batch_size=500)
    for delivery in Delivery.objects.filter(tenant=demo).exclude(status="pending").order_by("-id")[:300]:
        code = delivery.last_status_code
        attempts.append(Attempt(delivery=delivery, started_at=delivery.created_at, duration_ms=rng.uniform(40, 380),
                                request_headers={"Content-Type": "application/json", "webhook-id": f"msg_{delivery.pk}", "webhook-timestamp": str(int(delivery.created_at.timestamp()))},
                                status_code=code, response_headers={"Content-Type": "text/plain", "Server": "nginx"},
                                response_body="ok" if code == 200 else "upstream temporarily unavailable"))
    Attempt.objects.bulk_create(attempts, batch_size=500)
    for i, (key, reason) in enumerate([("product.archived", "Event type 'product.archived' is not in the catalog and the source has no catch-all type."),
                                       ("order.created", "The body is not valid JSON: Expecting value at line 1, column 1."),
                                       ("inventory.sync", "Event type 'inventory.sync' is not in the catalog and the source has no catch-all type.")]):
        DeadLetter.objects.create(tenant=demo, source=source, exchange="commerce.events", routing_key=key, properties={"content_type": "application/json"},
                                  body='{"id": "x-%d", "sku": "A-1"}' % i if i != 1 else "<<not json>>", body_size=24, reason=reason,
                                  received_at=now - timedelta(minutes=5 * i + 3), redriven_at=now - timedelta(minutes=1) if i == 2 else None)
    return demo


def publish_traffic(seconds=4.0):
    """A few seconds of events into the demo tenant, as HTTP ingest would record them, for the live viewer's shot."""
    from subscriptions.pipeline.recording import IncomingEvent, record_events
    from tenants.models import Tenant

    demo, rng = Tenant.objects.get(name="demo"), random.Random(7)
    kinds = ["product.created", "product.updated", "order.created", "order.updated", "customer.created"]
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        batch = [IncomingEvent(rng.choice(kinds), {"id": f"live-{n + i}", "status": rng.choice(["PAID", "SHIPPED", "NEW"])})
                 for i in range(rng.randint(1, 4))]
        record_events(demo, batch)
        n += len(batch)
        time.sleep(0.12)


def real_traffic(port):
    """The demo of `serve --demo` on this server: its endpoints to the built-in receiver, events delivered for real."""
    from dashboard import demo
    from subscriptions.delivery import worker
    from subscriptions.models import Delivery, Endpoint
    from subscriptions.pipeline.recording import IncomingEvent, record_events
    from tenants.models import Tenant

    tenant = Tenant.objects.get(name="demo")
    from django.conf import settings

    from subscriptions.management.commands.serve import allow_private_targets

    allow_private_targets()  # as serve --demo does: the receiver is on this machine
    settings.EVENTHUB = {**settings.EVENTHUB, "DEMO": True}
    demo.set_up(tenant, f"http://127.0.0.1:{port}")
    # The seeded endpoints (example.com hosts, unreachable from here) sit this out; the demo's own take the traffic.
    seeded = Endpoint.objects.filter(tenant=tenant).exclude(url__contains="/demo/echo/")
    seeded.update(enabled=False)
    record_events(tenant, demo.traffic(tenant, 12, random.Random(3)) + [IncomingEvent(type="customer.created", id="demo-customer-1", data={"id": "c-1"})])
    while Delivery.objects.filter(tenant=tenant, url__contains="/demo/echo/", attempt_count=0).exists():
        worker.deliver_now(limit=50)
    seeded.update(enabled=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve():
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config("eventhub.asgi:application", host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def shoot(base):
    from playwright.sync_api import sync_playwright

    from subscriptions.models import DeadLetter, Delivery, Endpoint, Source

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})

        check = (ROOT / "tests" / "browser" / "layout_check.js").read_text()

        def save(name):
            page.wait_for_load_state("networkidle")
            problems = page.evaluate(check)
            if problems:
                raise SystemExit(f"{name} ({page.url}) does not fit:\n  " + "\n  ".join(problems))
            page.screenshot(path=str(HERE / f"{name}.png"))
            print("saved", HERE / f"{name}.png")

        page.goto(f"{base}/login/")
        page.fill("#id_username", "admin")
        save("01-login")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/t/demo/")
        save("02-overview")
        page.goto(f"{base}/t/demo/catalog/")
        save("03-catalog")
        page.goto(f"{base}/t/demo/events/")
        save("03b-events")
        page.goto(f"{base}/t/demo/catalog/product.created/")
        save("04-catalog-type")
        page.goto(f"{base}/t/demo/endpoints/")
        save("05-endpoints")
        page.goto(f"{base}/t/demo/endpoints/new/")
        page.fill("#id_url", "https://pim.example.com/hooks/products")
        page.check(".type-picker input[value='product.created']")
        page.check(".type-picker input[value='product.updated']")
        page.fill("#id_event_filter", '{"data.id": {"$startsWith": "prod"}}')
        page.fill("#id_custom_payload", '{"sku": "/data/id", "event": "/type", "at": "/timestamp"}')
        page.fill("#id_preview_type", "product.created")
        page.fill("#id_preview_sample", '{"id": "prod-42", "name": {"en": "Espresso cup"}}')
        page.wait_for_selector("[data-preview-body]")
        page.wait_for_timeout(600)
        page.evaluate("window.scrollTo(0, 0)")
        save("06-endpoint-form")
        page.click("text=Create endpoint")
        page.wait_for_selector("[data-secret-once]")
        save("07-endpoint-created-secret")
        failing = Endpoint.objects.get(url__contains="crm")
        page.goto(f"{base}/t/demo/endpoints/{failing.pk}/")
        save("08-endpoint-detail")
        page.goto(f"{base}/t/demo/deliveries/")
        save("09-deliveries")
        page.goto(f"{base}/t/demo/deliveries/?status=failing")
        save("09b-deliveries-failing")
        delivery = Delivery.objects.filter(endpoint=failing, status="failed", attempts__isnull=False).first()
        page.goto(f"{base}/t/demo/deliveries/{delivery.pk}/")
        save("10-delivery")
        page.goto(f"{base}/t/demo/sources/")
        save("11-sources")
        source = Source.objects.get(name="commerce")
        page.goto(f"{base}/t/demo/sources/{source.pk}/edit/")
        save("12-source-form")
        page.goto(f"{base}/t/demo/dead-letters/")
        page.click("details.deadletter summary")
        save("13-dead-letters")
        letter = DeadLetter.objects.filter(routing_key="product.archived").first()
        page.goto(f"{base}/t/demo/dead-letters/{letter.pk}/")
        save("14-dead-letter")
        page.goto(f"{base}/t/demo/members/")
        page.fill("#id_who", "new.colleague@example.com")
        save("15-members")
        # The live viewer is its own feature; shot when it is part of this hub.
        if page.goto(f"{base}/t/demo/live/").status == 200:
            page.wait_for_selector("text=connected")
            publish_traffic()
            page.wait_for_timeout(800)
            save("16-live")
        page.goto(f"{base}/t/demo/portal-links/")
        page.check(f"input[name=endpoints][value='{failing.pk}']")
        page.select_option("#id_role", "editor")
        page.click("text=Create link")
        page.wait_for_selector("[data-portal-url]")
        save("17-portal-links")
        portal = page.locator("#portal-url").inner_text()
        page.context.clear_cookies()  # the consumer portal, opened by someone without an account
        page.goto(f"{portal}endpoints/{failing.pk}/")
        save("18-portal-endpoint")
        browser.close()


def main():
    with tempfile.TemporaryDirectory(prefix="eventhub-screens-") as data_dir:
        setup_django(data_dir)
        seed()
        server, base = serve()
        real_traffic(int(base.rsplit(":", 1)[1]))
        try:
            shoot(base)
        finally:
            server.should_exit = True


if __name__ == "__main__":
    main()

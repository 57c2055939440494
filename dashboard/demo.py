"""The first run of `manage.py serve --demo`: a receiver built into the hub and a little traffic to it, so a newcomer's
first sight is deliveries that succeed (and one that fails on purpose), not an empty or failing dashboard.

/demo/echo/ answers 200 with what it received; /demo/echo/?status=400 answers that status instead. Both are 404
unless the hub runs with --demo (EVENTHUB["DEMO"]).
"""

import json
import logging
import random
import socket
import threading
import time
import uuid

from django.conf import settings
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from subscriptions.endpoints.services import create_endpoint, update_endpoint
from subscriptions.models import Endpoint
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

logger = logging.getLogger(__name__)

ECHO_PATH = "/demo/echo/"
SUBSCRIBED = ("product.created", "product.updated", "order.created", "customer.created")
TRICKLE_SECONDS = 20  # then one event now and then, so the live viewer shows traffic


def demo_on():
    return bool(getattr(settings, "EVENTHUB", {}).get("DEMO"))


@csrf_exempt
def echo(request):
    """The demo receiver: 200 and a short summary of the delivery; ?status=NNN answers that status (a failure)."""
    if not demo_on():
        raise Http404("The demo receiver runs only with `serve --demo`.")
    try:
        status = int(request.GET.get("status") or 200)
    except ValueError:
        status = 200
    status = status if 200 <= status <= 599 else 200
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    answer = {"received": status < 300, "webhookId": request.headers.get("webhook-id"), "type": (body or {}).get("type") if isinstance(body, dict) else None}
    if status >= 300:
        answer["error"] = "The demo's failing receiver refuses every delivery (on purpose, to show a failure)."
    return JsonResponse(answer, status=status)


def set_up(tenant, base):
    """Subscriptions and the two demo endpoints (created once, their URL kept pointing at this port)."""
    for key in SUBSCRIBED:
        subscription = apply_subscription_change(tenant, SubscriptionChange(event_type=key, action="SUBSCRIBE"))
        if not subscription.ok and subscription.code != 409:
            logger.warning("demo: could not subscribe to %s: %s", key, subscription.message)
    wanted = [
        ("Demo receiver built into the hub: answers 200", f"{base}{ECHO_PATH}", ["product.*", "order.*"]),
        ("Demo receiver that refuses everything (400): the one failure on purpose", f"{base}{ECHO_PATH}?status=400", ["customer.*"]),
    ]
    for description, url, events in wanted:
        existing = Endpoint.objects.filter(tenant=tenant, description=description).first()
        if existing is None:
            create_endpoint(tenant, {"url": url, "events": events, "description": description})
        elif existing.url != url:
            update_endpoint(existing, {"url": url}, existing.version)


def traffic(tenant, count, rng):
    kinds = ["product.created", "product.updated", "order.created"]
    return [IncomingEvent(type=rng.choice(kinds), id=f"demo-{uuid.uuid4()}",
                          data={"id": f"demo-{rng.randint(1000, 9999)}", "status": rng.choice(["NEW", "PAID", "SHIPPED"])})
            for _ in range(count)]


def wait_for_port(host, port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def start(tenant, host, port):
    """Set the demo up, then (once the server listens) send a first burst and a slow trickle of events. With port 0
    (a free port chosen by the server) the receiver's address is unknown beforehand: no demo endpoints nor traffic."""
    if not port:
        return None
    target = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    base = f"http://{target}:{port}"
    settings.EVENTHUB = {**settings.EVENTHUB, "DEMO": True}
    set_up(tenant, base)

    def run():
        if not wait_for_port(target, port):
            return
        rng = random.Random()
        record_events(tenant, traffic(tenant, 12, rng) + [IncomingEvent(type="customer.created", id=f"demo-{uuid.uuid4()}",
                                                                          data={"id": "demo-customer-1"})])
        while True:
            time.sleep(TRICKLE_SECONDS)
            try:
                record_events(tenant, traffic(tenant, 1, rng))
            except Exception:  # a demo nicety: never take the server down
                logger.exception("demo traffic stopped")
                return

    threading.Thread(target=run, name="demo-traffic", daemon=True).start()
    return base

"""Every dashboard page fits from 1024 px up: measured by a script in Chromium at 1024, 1280 and 1440 px (see
layout_check.js: nothing wider than its box, cut with an ellipsis, sticking out of its card, or pills on two lines)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from subscriptions.catalog import SOURCES
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Attempt, DeadLetter, Delivery, DeliveryStatus, Event, Source
from subscriptions.portal.links import create_portal_link
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.models import Membership, Role
from tenants.services import add_member, create_tenant, ensure_user

pytestmark = pytest.mark.browser

PASSWORD = "browser-pass-123"
CHECK = (Path(__file__).parent / "layout_check.js").read_text()
WIDTHS = (1024, 1280, 1440)
LONG = "https://receiver-with-a-rather-long-host-name.internal.example.com/webhooks/eventhub/v2/tenants/acme/products-and-orders"


@pytest.fixture
def busy_tenant(transactional_db):
    """A tenant with long URLs, long errors, a retrying delivery, subscriptions, a source, dead letters and members."""
    tenant, _ = create_tenant("acme")
    owner, _ = ensure_user("olivia", PASSWORD)
    add_member(tenant, owner, Role.OWNER)
    add_member(tenant, ensure_user("a-member-with-a-long-user-name-from-the-directory", PASSWORD)[0], Role.VIEWER)
    for key in ("product.created", "order.created", "customer.created"):
        apply_subscription_change(tenant, SubscriptionChange(key, "SUBSCRIBE", fields_to_unsubscribe=("description", "name") if key == "product.created" else ()))
    endpoint = create_endpoint(tenant, {"url": LONG, "events": ["product.*", "order.*"], "description": "Storefront " * 20,
                                        "headers": {"X-A-Rather-Long-Header-Name": "x" * 80}, "custom_payload": {"id": "/data/id"}})[0]
    source = Source.objects.create(tenant=tenant, name="commerce", exchange="commerce.events.with.a.long.exchange.name",
                                   binding_keys=["product.#", "order.#", "customer.#.with.a.long.binding.key"], created_at=timezone.now(), modified_at=timezone.now())
    now = timezone.now()
    for i, status in enumerate([DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.PENDING, DeliveryStatus.PENDING]):
        event = Event.objects.create(tenant=tenant, event_id=f"evt-{'x' * 60}-{i}", type="product.created", timestamp=now, data={"id": "p1"},
                                     origin="broker", source=source, received_at=now - timedelta(minutes=i))
        delivery = Delivery.objects.create(tenant=tenant, event=event, endpoint=endpoint, url=LONG, event_type="product.created",
                                           body='{"id": "p1", "data": {"id": "p1", "text": "' + "long " * 80 + '"}}', status=status,
                                           attempt_count=0 if i == 3 else 3, last_status_code=200 if i == 0 else 503,
                                           last_error="" if i == 0 else "HTTP 503 Service Unavailable: " + "upstream " * 30,
                                           next_attempt_at=now + timedelta(minutes=5) if status == "pending" else None, created_at=now - timedelta(minutes=i))
        Attempt.objects.create(delivery=delivery, started_at=now, duration_ms=120, request_headers={"webhook-id": delivery.webhook_id, "X-Long": "y" * 200},
                               status_code=delivery.last_status_code, response_headers={"Server": "nginx"}, response_body="z" * 500, error=delivery.last_error)
    DeadLetter.objects.create(tenant=tenant, source=source, exchange=source.exchange, routing_key="product.archived.with.a.long.routing.key",
                              body='{"id": "' + "w" * 300 + '"}', body_size=310, reason="Event type 'product.archived' is not in the catalog " * 4, received_at=now)
    return tenant


def dashboard_pages(tenant):
    endpoint = tenant.endpoints.get()
    source, letter = Source.objects.get(tenant=tenant), DeadLetter.objects.get(tenant=tenant)
    delivery = Delivery.objects.filter(tenant=tenant, status="failed").get()
    member = Membership.objects.filter(tenant=tenant, role=Role.VIEWER).get()
    pages = ["", "events/", "events/?text=product", "deliveries/", "deliveries/?status=failing", f"deliveries/{delivery.pk}/", "endpoints/", "endpoints/new/",
             f"endpoints/{endpoint.pk}/", f"endpoints/{endpoint.pk}/edit/", f"endpoints/{endpoint.pk}/delete/", "catalog/?q=product",
             "catalog/product.created/", "sources/", "sources/new/", f"sources/{source.pk}/edit/", f"sources/{source.pk}/delete/",
             "dead-letters/", f"dead-letters/{letter.pk}/", f"dead-letters/{letter.pk}/redrive/", "members/", f"members/{member.pk}/", "live/",
             "portal-links/"]
    return [f"/t/acme/{path}" for path in pages + [f"catalog/?source={source}" for source in SOURCES]] + portal_pages(tenant, endpoint, delivery)


def portal_pages(tenant, endpoint, delivery):
    """The consumer portal's pages, through an editor link (every action shown)."""
    create_portal_link(tenant, endpoints=None, role="viewer", expires_in=600, created_by="a-member-with-a-long-user-name-from-the-directory")
    _, base = create_portal_link(tenant, endpoints=[endpoint], role="editor", expires_in=3600)
    return [base, f"{base}endpoints/{endpoint.pk}/", f"{base}deliveries/{delivery.pk}/"]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_dashboard_page_clips_or_overflows(hub_server, chromium, busy_tenant, width):
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{hub_server}/login/")
    assert page.evaluate(CHECK) == [], "the login page"
    page.fill("#id_username", "olivia")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub_server}/t/acme/")
    found = {}
    for path in dashboard_pages(busy_tenant):
        response = page.goto(f"{hub_server}{path}")
        assert response.status == 200, path
        for details in page.locator("details.deadletter, details.attempt").all():  # what opens, opened too
            details.locator("summary").click() if not details.get_attribute("open") else None
        problems = page.evaluate(CHECK)
        if problems:
            found[path] = problems
    context.close()
    assert found == {}, "\n".join(f"{path}: {p}" for path, problems in found.items() for p in problems)

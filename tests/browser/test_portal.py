"""The consumer portal in Chromium, opened from a link by someone without an account: what it shows and does, what it
refuses (expired, revoked, altered links, another tenant's endpoint, the dashboard through it), and the iframe."""

import http.server
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Attempt, Delivery, DeliveryStatus, EndpointSecret, Event, PortalLink
from subscriptions.portal.framing import set_frame_origins
from subscriptions.portal.links import create_portal_link, revoke_portal_link
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.services import create_tenant

pytestmark = pytest.mark.browser


def failed_delivery(endpoint):
    now = timezone.now()
    event = Event.objects.create(tenant=endpoint.tenant, event_id=f"evt-{endpoint.url[-5:]}", type="product.created", timestamp=now,
                                 data={"id": "p1"}, received_at=now)
    delivery = Delivery.objects.create(tenant=endpoint.tenant, event=event, endpoint=endpoint, url=endpoint.url, event_type="product.created",
                                       body='{"id":"p1"}', status=DeliveryStatus.FAILED, attempt_count=1, last_status_code=500,
                                       created_at=now, finished_at=now)
    Attempt.objects.create(delivery=delivery, started_at=now, duration_ms=12, request_headers={"webhook-id": delivery.webhook_id},
                           status_code=500, response_headers={"Server": "test"}, response_body="receiver broke")
    return delivery


@pytest.fixture
def shop(transactional_db):
    tenant, _ = create_tenant("acme")
    other_tenant, _ = create_tenant("globex")
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    mine = create_endpoint(tenant, {"url": "https://hooks.example.com/mine", "events": ["product.*"]})[0]
    other = create_endpoint(tenant, {"url": "https://hooks.example.com/other", "events": ["product.*"]})[0]
    theirs = create_endpoint(other_tenant, {"url": "https://hooks.example.com/theirs", "events": ["product.*"]})[0]
    return {"tenant": tenant, "mine": mine, "other": other, "theirs": theirs, "delivery": failed_delivery(mine)}


def link(hub_server, shop, role="editor"):
    made, path = create_portal_link(shop["tenant"], endpoints=[shop["mine"]], role=role, expires_in=3600)
    return made, hub_server + path


def test_an_editor_link_shows_health_deliveries_attempts_and_retries_tests_and_rotates(hub_server, page, shop):
    _, url = link(hub_server, shop)
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm question: the page's own script runs
    violations = []
    page.on("console", lambda m: violations.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None)
    page.goto(url)
    assert page.locator("h1").inner_text() == "Your webhook endpoints"
    assert page.locator(f"[data-endpoint='{shop['mine'].pk}']").count() == 1 and "hooks.example.com/other" not in page.content()
    page.click(f"text={shop['mine'].url}")
    delivery = shop["delivery"]
    page.click(f"a[href$='deliveries/{delivery.pk}/']")
    assert page.locator("[data-webhook-id]").inner_text() == delivery.webhook_id and "receiver broke" in page.content()

    page.click("text=Retry now")
    page.wait_for_url(f"**/deliveries/{delivery.pk}/?done=retried")
    assert "due again" in page.locator("[data-done]").inner_text()
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING

    page.goto(f"{url}endpoints/{shop['mine'].pk}/")
    page.select_option("select[name=event_type]", "product.created")
    page.click("text=Send test event")
    page.wait_for_url("**/?done=test")
    test = Delivery.objects.latest("id")
    assert test.endpoint_id == shop["mine"].pk and test.event.origin == "test" and page.url.endswith(f"deliveries/{test.pk}/?done=test")

    page.goto(f"{url}endpoints/{shop['mine'].pk}/")
    page.click("text=Rotate secret")
    page.wait_for_url("**/?done=rotated")
    newest = EndpointSecret.objects.filter(endpoint=shop["mine"]).latest("created_at").secret
    assert page.locator("#endpoint-secret").inner_text() == newest
    page.reload()
    assert page.locator("[data-secret-once]").count() == 0 and newest not in page.content()

    assert violations == [], "\n".join(violations)
    assert page.context.cookies() == []  # no session, no CSRF cookie: nothing of the dashboard opened
    page.goto(f"{hub_server}/t/acme/")
    assert "/login/" in page.url


def test_a_viewer_link_shows_no_action(hub_server, page, shop):
    _, url = link(hub_server, shop, role="viewer")
    page.goto(f"{url}deliveries/{shop['delivery'].pk}/")
    assert "receiver broke" in page.content() and page.locator("text=Retry now").count() == 0
    page.goto(f"{url}endpoints/{shop['mine'].pk}/")
    assert page.locator("text=Rotate secret").count() == 0 and page.locator("text=Send test event").count() == 0


def refusal(page, target):
    response = page.goto(target)
    return response.status, page.locator("h1").inner_text(), page.content()


def test_expired_revoked_and_altered_links_are_refused_with_a_page_saying_so(hub_server, page, shop):
    expired, expired_url = link(hub_server, shop)
    PortalLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    status, title, text = refusal(page, expired_url)
    assert (status, title) == (410, "Link expired") and "hooks.example.com" not in text

    revoked, revoked_url = link(hub_server, shop)
    assert refusal(page, revoked_url)[0] == 200
    revoke_portal_link(shop["tenant"], revoked.pk)
    status, title, text = refusal(page, f"{revoked_url}endpoints/{shop['mine'].pk}/")
    assert (status, title) == (410, "Link revoked") and "hooks.example.com" not in text

    _, url = link(hub_server, shop)
    token = url.rstrip("/").rsplit("/", 1)[1]
    altered = url.replace(token, token[:10] + ("x" if token[10] != "x" else "y") + token[11:])
    status, title, text = refusal(page, altered)
    assert (status, title) == (404, "Link not valid") and "hooks.example.com" not in text


def test_another_tenants_endpoint_and_the_dashboard_are_not_reachable_through_a_link(hub_server, page, shop):
    _, url = link(hub_server, shop)
    for target in (f"{url}endpoints/{shop['theirs'].pk}/", f"{url}endpoints/{shop['other'].pk}/"):
        status, _, text = refusal(page, target)
        assert status == 404 and "is not shown by this link" in text and "hooks.example.com/" not in text
    for path in ("t/acme/", "t/acme/endpoints/", "webhook/acme/endpoints", "admin/"):
        status, _, text = refusal(page, url + path)
        assert status == 404 and "hooks.example.com" not in text, path
    page.goto(url + "../../t/acme/endpoints/")  # the browser resolves the dots: the dashboard itself, which asks for a login
    assert "/login/" in page.url and "hooks.example.com" not in page.content()


@pytest.fixture
def embedding_site():
    """Another origin (its own port) whose page frames whatever ?src= names."""
    class Embed(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            from urllib.parse import parse_qs, urlparse

            src = parse_qs(urlparse(self.path).query)["src"][0]
            body = f'<!doctype html><title>shop</title><iframe id="portal" src="{src}" width="900" height="600"></iframe>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Embed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def framed_text(page, site, src):
    from urllib.parse import quote

    page.goto(f"{site}/?src={quote(src, safe='')}")
    page.wait_for_timeout(500)
    frame = page.frame_locator("#portal")
    return frame.locator("body").inner_text(timeout=3000) if page.frames[1].url == src else ""


def test_the_portal_may_be_framed_only_by_the_origins_the_owner_lists(hub_server, page, shop, embedding_site):
    _, url = link(hub_server, shop)
    assert "Webhooks of acme" not in framed_text(page, embedding_site, url)
    set_frame_origins(shop["tenant"], [embedding_site])
    assert "Webhooks of acme" in framed_text(page, embedding_site, url)
    assert "Log in" not in framed_text(page, embedding_site, f"{hub_server}/login/")  # the rest of the hub: never framed
    set_frame_origins(shop["tenant"], ["https://shop.example.com"])
    assert "Webhooks of acme" not in framed_text(page, embedding_site, url)

"""The dashboard in a real browser: log in, subscribe with an excluded field, build an endpoint with a live preview,
see its secret once, send it a test event and find the delivery with its attempt."""

import asyncio
import json
import re
import threading

import pytest
from playwright.sync_api import expect

from subscriptions.models import Endpoint, EventSubscription
from tenants.models import Role
from tenants.services import add_member, create_tenant, ensure_user

pytestmark = pytest.mark.browser

PASSWORD = "browser-pass-123"


@pytest.fixture
def owner_login(transactional_db):
    tenant, _ = create_tenant("acme")
    user, _ = ensure_user("olivia", PASSWORD)
    add_member(tenant, user, Role.OWNER)
    return tenant


def log_in(page, hub_server):
    page.goto(f"{hub_server}/")
    page.wait_for_url(re.compile(r"/login/"))
    page.fill("#id_username", "olivia")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub_server}/t/acme/")


def test_subscribe_with_an_excluded_field_build_an_endpoint_with_a_live_preview_and_see_the_secret_once(hub_server, page, owner_login):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(hub_server) else None)
    log_in(page, hub_server)
    assert page.inner_text(".switcher summary").endswith("acme")

    page.click("nav.sidebar >> text=Catalog")
    page.fill("input[type=search]", "product created")  # client-side filter of this page
    assert page.is_hidden("tr[data-filter-text*='category.created']")
    page.click("a.mono >> text=product.created")
    page.check("input[name=excluded][value=name]")
    page.click("text=Subscribe with these fields")
    page.wait_for_selector(".msg-success")
    subscription = EventSubscription.objects.get(tenant=owner_login, event_type__key="product.created")
    assert subscription.state == "SUBSCRIBED" and subscription.excluded_fields == ["name"]

    page.goto(f"{hub_server}/t/acme/endpoints/new/")
    page.fill("#id_url", "https://hooks.example.com/products")
    page.check(".type-picker input[value='product.created']")
    page.fill("#id_event_filter", '{"data.id": {"$startsWith": "p-"}}')
    page.fill("#id_custom_payload", '{"productId": "/data/id", "label": "/data/name"}')
    page.fill("#id_preview_type", "product.created")
    page.fill("#id_preview_sample", '{"id": "p-1", "name": {"en": "Cup"}, "productType": "BASIC"}')
    expect(page.locator("[data-preview-body]")).to_contain_text("p-1", timeout=10_000)
    body = json.loads(page.inner_text("[data-preview-body]"))
    assert body == {"productId": "p-1", "label": None}  # `name` is excluded by the subscription before the payload is shaped
    assert "would be delivered" in page.inner_text("[data-preview-result]")
    assert "placeholder secret" in page.inner_text("[data-signature-note]")  # the preview's signature is no real one

    page.fill("#id_preview_sample", '{"id": "x-9"}')  # the filter no longer matches: the preview says why
    expect(page.locator("[data-preview-result]")).to_contain_text("eventFilter does not match", timeout=10_000)
    page.fill("#id_event_filter", '{"data.id": {"$nope": 1}}')
    expect(page.locator("[data-preview-result]")).to_contain_text("data.id", timeout=10_000)
    page.fill("#id_event_filter", '{"data.id": {"$startsWith": "p-"}}')

    page.click("text=Create endpoint")
    page.wait_for_selector("[data-secret-once]")
    endpoint = Endpoint.objects.get(tenant=owner_login)
    secret = endpoint.secrets.get().secret
    assert page.inner_text("#endpoint-secret") == secret
    assert endpoint.event_filter == {"data.id": {"$startsWith": "p-"}} and endpoint.custom_payload == {"productId": "/data/id", "label": "/data/name"}
    page.goto(f"{hub_server}/t/acme/endpoints/{endpoint.pk}/")
    assert secret not in page.content()
    assert outside == []

    page.click(".usermenu summary")
    page.click("[data-logout]")
    page.wait_for_url(f"{hub_server}/login/")
    page.goto(f"{hub_server}/t/acme/endpoints/")
    assert "/login/" in page.url


class Receiver:
    """A local webhook receiver (aiohttp) on its own event loop thread; keeps what it got."""

    def __init__(self):
        self.requests = []
        self.url = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()

    def start(self):
        from aiohttp import web

        async def handle(request):
            self.requests.append({"headers": dict(request.headers), "body": await request.text()})
            return web.Response(text="thanks <b>hub</b>", headers={"X-Receiver": "local"})

        async def run():
            app = web.Application()
            app.router.add_post("/hook", handle)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}/hook"
            self._ready.set()

        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(run(), self._loop)
        self._ready.wait(10)
        return self

    def stop(self):
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_send_a_test_event_to_a_local_receiver_and_find_the_delivery_with_its_attempt(hub_server, page, owner_login, receiver, settings):
    from subscriptions.delivery import worker  # part of the app: an import error is a failure, never a skip
    settings.EVENTHUB = {**getattr(settings, "EVENTHUB", {}), "ALLOW_PRIVATE_TARGETS": True}
    log_in(page, hub_server)
    page.goto(f"{hub_server}/t/acme/endpoints/new/")
    page.fill("#id_url", receiver.url)
    page.check(".type-picker input[value='product.created']")
    page.click("text=Create endpoint")
    page.wait_for_selector("[data-secret-once]")

    page.fill("input[name=event_type]", "product.created")
    page.click("text=Send test event")
    page.wait_for_url(re.compile(r"/t/acme/deliveries/\d+/$"))
    delivery_id = int(re.search(r"/deliveries/(\d+)/", page.url).group(1))
    assert worker.deliver_now(ids=[delivery_id]) == 1
    assert len(receiver.requests) == 1 and "webhook-signature" in {k.lower() for k in receiver.requests[0]["headers"]}

    page.click("nav.sidebar >> text=Deliveries")
    page.select_option("#id_status", "succeeded")
    page.click("text=Filter")
    page.click(f"a >> text=#{delivery_id}")
    page.wait_for_selector("details.attempt")
    attempt = page.inner_text("details.attempt")
    assert "200" in attempt and "thanks <b>hub</b>" in attempt and "X-Receiver" in attempt


def test_create_the_missing_source_and_re_drive_a_dead_letter(hub_server, page, owner_login):
    from subscriptions.core.messages import Message
    from subscriptions.models import DeadLetter, Event
    from subscriptions.broker.sources import dead_letter_row, store_dead_letters

    message = Message("shop.events", "shop.product.created", b'{"id": "p-7", "note": "<b>bold</b>"}', {"messageId": "m-7", "type": "product.created"})
    reason = "no enabled source matches exchange 'shop.events' and routing key 'shop.product.created'"
    [letter] = store_dead_letters([dead_letter_row(message, reason, owner_login.id)])
    log_in(page, hub_server)

    page.click("nav.sidebar >> text=Sources")
    page.click("text=New source")
    page.fill("#id_name", "shop")
    page.fill("#id_exchange", "shop.events")
    page.fill("#id_binding_keys", "shop.#")
    page.click("text=Create source")
    page.wait_for_selector(".msg-success")
    assert "shop.#" in page.inner_text("table")

    page.click("nav.sidebar >> text=Dead letters")
    page.select_option("select[name=state]", "dead")
    page.click("form[role=search] >> text=Filter")
    page.click(f"details[data-dead-letter='{letter.pk}'] summary")
    page.click(f"details[data-dead-letter='{letter.pk}'] >> text=re-drive")
    page.wait_for_url(f"{hub_server}/t/acme/dead-letters/{letter.pk}/")
    assert "<b>bold</b>" in page.inner_text("[data-body]")  # shown as text
    page.click("text=Re-drive…")
    page.click("button:has-text('Re-drive')")
    page.wait_for_selector(".msg-success")
    assert "Re-driven: event m-7 recorded" in page.inner_text(".msg-success")
    assert "not yet" not in page.inner_text("[data-redriven]")
    event = Event.objects.get(tenant=owner_login)
    assert (event.event_id, event.type, event.data["id"]) == ("m-7", "product.created", "p-7")
    assert DeadLetter.objects.get(pk=letter.pk).redriven_at is not None

    page.click("nav.sidebar >> text=Dead letters")
    page.select_option("select[name=state]", "dead")
    page.click("form[role=search] >> text=Filter")
    assert "No dead letter matches" in page.inner_text("main")

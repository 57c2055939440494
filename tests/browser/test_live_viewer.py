"""The live event viewer in headless chromium against a running hub: rows appear, untrusted bodies stay text."""

import json
import uuid

import pika
import pytest
from playwright.sync_api import expect
from django.test import Client
from django.utils import timezone

from monitor import broadcast
from monitor.bridge import Bridge
from subscriptions.models import Source
from tenants.models import Membership, Role
from tenants.services import add_member, create_tenant, ensure_user
from tests.conftest import SERVICE_URLS
from tests.subscriptions.broker_helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("channel_layer")]

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def member_page(hub_server, page):
    """The page, logged in as a member of `acme` (session cookie set directly: there is no login form yet)."""
    tenant, _ = create_tenant("acme")
    user, _ = ensure_user("mia")
    add_member(tenant, user, Role.VIEWER)
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": hub_server}])
    return page


def open_viewer(page, hub_server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{hub_server}/t/acme/live/")
    page.wait_for_selector('#lv-conn[data-state="connected"]')
    return dialogs


def test_a_member_sees_a_published_event_appear_and_opens_its_body(hub_server, member_page):
    page = member_page
    dialogs = open_viewer(page, hub_server)
    assert page.inner_text("#lv-conn-text") == "connected"
    broadcast.publish("acme", broadcast.make_message(
        "broker", "acme", body=json.dumps({"id": "p1", "price": 12}), source="shop", routingKey="shop.product.created",
        type="product.created", properties={"message_id": "m-1"},
    ))  # fmt: skip
    row = page.wait_for_selector("#lv-rows tr")
    cells = [c.inner_text() for c in row.query_selector_all("td")]
    assert cells[1:] == ["broker", "shop", "shop.product.created", "product.created", "acme", ""]
    row.click()
    assert json.loads(page.inner_text("#lv-d-body")) == {"id": "p1", "price": 12}
    assert '"message_id": "m-1"' in page.inner_text("#lv-d-props")
    assert page.inner_text("#lv-d-body").startswith("{\n  ")  # pretty-printed
    assert dialogs == []


def test_an_html_body_and_html_fields_show_as_literal_text_and_run_nothing(hub_server, member_page):
    page = member_page
    dialogs = open_viewer(page, hub_server)
    broadcast.publish("acme", broadcast.make_message("broker", "acme", body=XSS, source=XSS, routingKey="a.b", type="<b>bold</b>", properties={"headers": {"x": XSS}}))
    row = page.wait_for_selector("#lv-rows tr")
    assert row.query_selector_all("td")[2].inner_text() == XSS
    assert row.query_selector_all("td")[4].inner_text() == "<b>bold</b>"
    row.click()
    assert page.inner_text("#lv-d-body") == XSS
    assert page.query_selector("#live img") is None and page.query_selector("#live b") is not None  # only our own <b>s
    assert page.eval_on_selector_all("#lv-rows b, #lv-detail img, #lv-rows img", "els => els.length") == 0
    assert dialogs == []  # and none can come: no <img> was made, so no onerror exists to run


def test_filter_pause_and_the_dropped_notice(hub_server, member_page):
    page = member_page
    open_viewer(page, hub_server)
    page.fill("#lv-f-types", "order.*")
    page.click("button[type=submit]")
    # The server handles a connection's messages in order: once it answered the pause sent after the filter, the
    # filter is in force (the page shows no acknowledgement of a filter itself).
    page.click("#lv-pause")
    page.wait_for_selector('#lv-conn[data-state="paused"]')
    page.click("#lv-pause")
    page.wait_for_selector('#lv-conn[data-state="connected"]')
    for event_type in ("product.created", "order.created"):
        broadcast.publish("acme", broadcast.make_message("ingested", "acme", body="{}", type=event_type))
    page.wait_for_selector("#lv-rows tr")  # product.created, published first, would have come in this frame or before
    assert [r.inner_text() for r in page.query_selector_all("#lv-rows tr td:nth-child(5)")] == ["order.created"]

    page.click("#lv-pause")
    page.wait_for_selector('#lv-conn[data-state="paused"]')
    sent_before = broadcast.broadcaster().stats.sent
    for _ in range(4):
        broadcast.publish("acme", broadcast.make_message("ingested", "acme", body="{}", type="order.paid"))
    wait_until(lambda: broadcast.broadcaster().stats.sent >= sent_before + 4, what="the four items handed to the channel layer")
    page.click("#lv-pause")
    assert page.wait_for_selector("#lv-skipped:not([hidden])").inner_text() == "4 skipped while paused"

    for n in range(2500):  # one burst far beyond the 1,000-item connection buffer
        broadcast.publish("acme", broadcast.make_message("ingested", "acme", body="{}", type="order.created"))
    notice = page.wait_for_selector("#lv-dropped:not([hidden])")
    assert notice.inner_text().endswith(" dropped")
    page.click("#lv-clear")
    assert page.query_selector_all("#lv-rows tr") == [] and page.is_hidden("#lv-dropped")


@pytest.mark.rabbitmq
def test_applying_a_filter_removes_the_rows_it_no_longer_matches(hub_server, member_page):
    page = member_page
    open_viewer(page, hub_server)
    for event_type in ("product.created", "order.created", "product.deleted"):
        broadcast.publish("acme", broadcast.make_message("ingested", "acme", body="{}", type=event_type))
    expect(page.locator("#lv-rows tr")).to_have_count(3)
    page.fill("#lv-f-types", "product.*")
    page.click("text=Apply filter")
    expect(page.locator("#lv-rows tr")).to_have_count(2)
    assert sorted(page.locator("#lv-rows tr td:nth-child(5)").all_inner_texts()) == ["product.created", "product.deleted"]
    assert page.inner_text("#lv-count") == "2"
    page.fill("#lv-f-types", "order.*")
    page.click("text=Apply filter")
    expect(page.locator("#lv-rows tr")).to_have_count(0)  # order.created went with the previous filter


def test_a_message_published_to_rabbitmq_appears_through_the_bridge(hub_server, member_page):
    page = member_page
    exchange = f"test.monitor.browser.{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.URLParameters(SERVICE_URLS["rabbitmq"]))
    channel = conn.channel()
    channel.exchange_declare(exchange, exchange_type="topic", durable=False)
    now = timezone.now()
    Source.objects.create(tenant=Source._meta.get_field("tenant").related_model.objects.get(name="acme"), name="shop", exchange=exchange, binding_keys=["shop.#"], created_at=now, modified_at=now)
    bridge = Bridge(SERVICE_URLS["rabbitmq"], refresh=0.2)
    bridge.start()
    try:
        assert bridge.synced.wait(10)
        open_viewer(page, hub_server)
        channel.basic_publish(exchange, "shop.order.placed", XSS.encode(), pika.BasicProperties(type="order.placed"))
        row = page.wait_for_selector("#lv-rows tr")
        cells = [c.inner_text() for c in row.query_selector_all("td")]
        assert cells[1:6] == ["broker", "shop", "shop.order.placed", "order.placed", "acme"]
        row.click()
        assert page.inner_text("#lv-d-body") == XSS
    finally:
        bridge.stop()
        channel.exchange_delete(exchange)
        conn.close()


def test_a_member_removed_while_watching_sees_access_end_and_the_page_stops_reconnecting(hub_server, member_page, settings):
    settings.EVENTHUB = {**getattr(settings, "EVENTHUB", {}), "MONITOR_RECHECK_SECONDS": 0.2}
    page = member_page
    open_viewer(page, hub_server)
    Membership.objects.filter(user__username="mia", tenant__name="acme").delete()
    page.wait_for_selector('#lv-conn[data-state="offline"]', timeout=15_000)
    # A scheduled reconnect would show its countdown ("offline · retrying in N s") in the same tick as the close.
    assert page.inner_text("#lv-conn-text") == "access ended · no longer a member of this tenant"

"""Post/redirect/get in a real browser: every dashboard form that succeeds answers with a redirect, so reloading the
page it lands on sends nothing again (no second endpoint, no second secret, no second test event or replay)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeadLetter, Endpoint, EndpointSecret, Event, EventSubscription, Source
from tenants.models import Membership, Role
from tenants.services import add_member, create_tenant, ensure_user

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

PASSWORD = "browser-pass-123"


@pytest.fixture
def owner_page(hub_server, page, transactional_db):
    tenant, _ = create_tenant("acme")
    user, _ = ensure_user("olivia", PASSWORD)
    add_member(tenant, user, Role.OWNER)
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm questions
    log_in(page, hub_server, "olivia", PASSWORD)
    page.tenant = tenant
    return page


def rows():
    """Everything a form could create twice."""
    return (Endpoint.objects.count(), EndpointSecret.objects.count(), Delivery.objects.count(), Event.objects.count(),
            EventSubscription.objects.filter(state="SUBSCRIBED").count(), Source.objects.count(), Membership.objects.count(),
            DeadLetter.objects.filter(redriven_at__isnull=False).count(), [e.version for e in Endpoint.objects.order_by("pk")])


def submit_then_reload(page, submit):
    """Submit, check the answer was a redirect to a GET, reload, check nothing changed. Returns the landing URL."""
    with page.expect_navigation() as navigation:
        submit()
    response = navigation.value
    assert response.request.method == "GET", response.url
    assert response.request.redirected_from is not None and response.request.redirected_from.method == "POST", response.url
    after = rows()
    page.reload()
    assert rows() == after, f"reloading {page.url} changed something"
    return page.url


def test_reloading_after_every_form_post_creates_nothing(hub_server, owner_page):
    page, base = owner_page, f"{hub_server}/t/acme/"

    page.goto(base + "catalog/?q=product")
    submit_then_reload(page, lambda: page.click("button[value='SUBSCRIBE:product.created']"))
    page.goto(base + "catalog/?q=product")
    page.check("input[name=selected][value='product.deleted']")
    submit_then_reload(page, lambda: page.click("button[name=bulk_action][value=SUBSCRIBE]"))
    page.goto(base + "catalog/product.created/")
    page.check("input[name=excluded][value=name]")
    submit_then_reload(page, lambda: page.click("text=Save excluded fields"))

    page.goto(base + "endpoints/new/")
    page.fill("#id_url", "https://hooks.example.com/products")
    page.check(".type-picker input[value='product.created']")
    landed = submit_then_reload(page, lambda: page.click("text=Create endpoint"))
    endpoint = Endpoint.objects.get()
    assert landed == f"{base}endpoints/{endpoint.pk}/"
    assert page.locator("[data-secret-once]").count() == 0  # reloaded: the one-time secret is gone

    page.goto(f"{base}endpoints/{endpoint.pk}/edit/")
    page.fill("#id_description", "the shop's product feed")
    submit_then_reload(page, lambda: page.click("text=Save changes"))
    submit_then_reload(page, lambda: page.click("text=Rotate secret"))
    assert page.locator("[data-secret-once]").count() == 0
    submit_then_reload(page, lambda: page.click("text=Send test event"))
    page.goto(f"{base}endpoints/{endpoint.pk}/")
    page.fill("input[name=since]", (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    submit_then_reload(page, lambda: page.click("text=Replay since"))
    page.goto(f"{base}endpoints/{endpoint.pk}/")
    submit_then_reload(page, lambda: page.click("button:text-is('Disable')"))

    delivery = Delivery.objects.order_by("pk").first()
    page.goto(f"{base}deliveries/{delivery.pk}/")
    submit_then_reload(page, lambda: page.click("text=Retry now"))

    page.goto(base + "sources/new/")
    page.fill("#id_name", "shop")
    page.fill("#id_exchange", "shop.events")
    page.fill("#id_binding_keys", "product.#")
    submit_then_reload(page, lambda: page.click("text=Create source"))
    source = Source.objects.get()
    page.goto(f"{base}sources/{source.pk}/edit/")
    page.fill("#id_binding_keys", "product.#\norder.#")
    submit_then_reload(page, lambda: page.click("text=Save changes"))
    page.goto(f"{base}sources/{source.pk}/delete/")
    submit_then_reload(page, lambda: page.click("text=Delete source"))

    letter = DeadLetter.objects.create(tenant=page.tenant, reason="unknown type", exchange="shop.events", routing_key="product.created",
                                       body='{"id": "p1"}', received_at=timezone.now())
    page.goto(f"{base}dead-letters/{letter.pk}/redrive/")
    submit_then_reload(page, lambda: page.click("button:text-is('Re-drive')"))

    ensure_user("victor", "victor-pass-123")
    page.goto(base + "members/")
    page.fill("#id_who", "victor")
    submit_then_reload(page, lambda: page.click("button:text-is('Invite')"))
    page.fill("#id_who", "wendy@example.com")
    submit_then_reload(page, lambda: page.click("button:text-is('Invite')"))
    member = Membership.objects.get(user__username="victor")
    page.select_option("select[aria-label='Role of victor']", "editor")
    submit_then_reload(page, lambda: page.locator("tr", has_text="victor").locator("text=Change").click())
    page.goto(f"{base}members/{member.pk}/")
    submit_then_reload(page, lambda: page.click("text=Remove member"))

    page.goto(f"{base}endpoints/{endpoint.pk}/delete/")
    landed = submit_then_reload(page, lambda: page.click("text=Delete endpoint"))
    assert landed == base + "endpoints/" and not Endpoint.objects.exists()


def test_the_delivery_page_after_send_test_event_refreshes_itself_until_the_attempt_is_there(hub_server, owner_page, settings):
    from subscriptions.delivery import worker

    settings.EVENTHUB = {**getattr(settings, "EVENTHUB", {}), "ALLOW_PRIVATE_TARGETS": True}
    page, base = owner_page, f"{hub_server}/t/acme/"
    endpoint = create_endpoint(page.tenant, {"url": "http://127.0.0.1:9/nothing-listens", "events": ["product.*"]})[0]
    page.goto(f"{base}endpoints/{endpoint.pk}/")
    page.click("text=Send test event")
    page.wait_for_url(re.compile(r"/deliveries/\d+/$"))
    assert "No attempt yet" in page.inner_text("main") and page.locator("meta[data-refreshing]").count() == 1
    delivery_id = int(re.search(r"/deliveries/(\d+)/", page.url).group(1))
    assert worker.deliver_now(ids=[delivery_id]) == 1  # the worker's first attempt fails: nothing listens there
    page.locator("details.attempt").first.wait_for()  # shown without anyone reloading the page
    assert page.inner_text("[data-delivery-state]") == "retrying" and "1 attempt failed, next at" in page.inner_text("[data-delivery-next]")


def test_an_invited_member_sets_a_password_through_the_emailed_link_once(hub_server, owner_page, chromium, mailoutbox):
    page = owner_page
    page.goto(f"{hub_server}/t/acme/members/")
    page.fill("#id_who", "dana@example.com")
    page.select_option("#id_role", "editor")
    page.click("button:text-is('Invite')")
    page.locator(".msg-success", has_text="one-time link").wait_for()
    assert page.locator("tr", has_text="dana@example.com").locator(".badge").inner_text() == "invited"
    [mail] = mailoutbox
    link = re.search(r"(http://\S+/invitation/\S+/)", mail.body).group(1)

    invitee = chromium.new_context().new_page()
    invitee.goto(link)
    invitee.fill("#id_new_password1", "dana-pass-2026!")
    invitee.fill("#id_new_password2", "dana-pass-2026!")
    invitee.click("text=Set password")
    invitee.wait_for_url(f"{hub_server}/login/")
    invitee.fill("#id_username", "dana@example.com")
    invitee.fill("#id_password", "dana-pass-2026!")
    invitee.click("button[type=submit]")
    invitee.wait_for_url(f"{hub_server}/t/acme/")
    invitee.goto(link)
    invitee.locator("[data-invitation-invalid]").wait_for()  # the link worked once
    invitee.context.close()

"""The endpoint form in a real browser: a searchable event-type picker with wildcards, eventFilter and customPayload
checked as you type by the server's validators, examples for the chosen type, a quiet preview until there is
something to preview, and a failed submit that keeps the header rows as they were."""

import logging
import re

import pytest
from playwright.sync_api import expect

from subscriptions.models import Endpoint
from tenants.models import Role
from tenants.services import add_member, create_tenant, ensure_user

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

PASSWORD = "browser-pass-123"


@pytest.fixture
def form_page(hub_server, page, transactional_db):
    tenant, _ = create_tenant("acme")
    user, _ = ensure_user("olivia", PASSWORD)
    add_member(tenant, user, Role.OWNER)
    log_in(page, hub_server, "olivia", PASSWORD)
    return page


def test_a_fresh_form_previews_nothing_and_logs_no_bad_request(hub_server, form_page, caplog):
    page = form_page
    previews = []
    page.on("request", lambda r: previews.append(r.url) if "/endpoints/preview/" in r.url else None)
    caplog.set_level(logging.WARNING, logger="django.request")
    page.goto(f"{hub_server}/t/acme/endpoints/new/")
    expect(page.locator("[data-examples]")).to_be_visible()  # the page's script has run (examples for the preview type)
    assert previews == [] and "required" not in page.inner_text("[data-preview-result]")
    page.check(".type-picker input[value='product.created']")
    assert previews == []  # still no URL
    page.fill("#id_url", "https://hooks.example.com/a")
    expect(page.locator("[data-preview-result] .badge")).to_contain_text("would")  # now there is something to preview
    page.fill("#id_url", "")
    page.fill("#id_description", "x")
    page.click("[data-preview-button]")  # asked for explicitly with a form that is not complete: an answer, not a 400
    expect(page.locator("[data-preview-result]")).to_contain_text("url")
    assert [r.getMessage() for r in caplog.records if "Bad Request" in r.getMessage()] == []


def test_the_picker_searches_groups_and_shows_wildcards(hub_server, form_page):
    page = form_page
    page.goto(f"{hub_server}/t/acme/endpoints/new/")
    assert page.locator("#id_events").is_hidden()  # the multi-select stays in the form, under the picker
    page.fill(".type-picker input[type=search]", "order.created")
    expect(page.locator(".type-picker-item:visible")).to_have_count(1)
    page.check(".type-picker input[value='order.created']")
    assert page.eval_on_selector("#id_events", "s => Array.from(s.selectedOptions).map(o => o.value)") == ["order.created"]
    page.fill(".type-picker input[type=search]", "")
    assert page.locator(".type-picker-head strong", has_text="emporix").count() > 3  # sections by source and group
    page.click(".type-picker button[data-wildcard='product.*']")
    assert page.input_value("#id_patterns") == "product.*"
    expect(page.locator(".type-picker-item", has=page.locator("input[value='product.created']")).locator(".badge")).to_have_text("via product.*")

    page.fill("#id_url", "https://hooks.example.com/orders")
    page.click("text=Create endpoint")
    page.wait_for_url(re.compile(r"/endpoints/[0-9a-f-]+/$"))
    assert Endpoint.objects.get().events == ["order.created", "product.*"]


def test_filter_and_payload_are_checked_as_you_type_with_the_error_at_its_path_and_examples_fill_them(hub_server, form_page):
    page = form_page
    page.goto(f"{hub_server}/t/acme/endpoints/new/")
    page.fill("#id_event_filter", '{"data.price": {"$nope": 1}}')
    problem = page.locator("[data-problems-for=event_filter] [data-problem]")
    expect(problem).to_have_attribute("data-problem", "data.price")
    expect(problem).to_contain_text("$nope")
    page.fill("#id_event_filter", '{"data.price": {"$gt": 1}}')
    expect(problem).to_have_count(0)
    page.fill("#id_custom_payload", '{"id": "no-pointer"}')
    expect(page.locator("[data-problems-for=custom_payload] [data-problem]")).to_contain_text("pointer")
    page.fill("#id_custom_payload", '{"id": ')
    expect(page.locator("[data-problems-for=custom_payload]")).to_contain_text("Not valid JSON")

    page.fill("#id_preview_type", "product.created")
    page.dispatch_event("#id_preview_type", "change")
    expect(page.locator("[data-examples] h3")).to_have_text("Examples for product.created")
    page.click("button[data-use-example=custom_payload]")
    expect(page.locator("[data-problems-for=custom_payload] [data-problem]")).to_have_count(0)
    assert '"eventType": "/type"' in page.input_value("#id_custom_payload")


def test_a_failed_submit_keeps_the_header_rows_as_they_were(hub_server, form_page):
    page = form_page
    page.goto(f"{hub_server}/t/acme/endpoints/new/")
    page.fill("input[name=header_name]", "X-Team")
    page.fill("input[name=header_value]", "catalog")
    page.click("[data-kv-add]")
    page.click("text=Create endpoint")  # no URL: refused
    expect(page.locator("[data-error-for=url]")).to_be_visible()
    names = page.eval_on_selector_all("input[name=header_name]", "inputs => inputs.map(i => i.value)")
    assert names == ["X-Team", ""]  # the filled row and one blank to type into, not a blank more per failed submit
    page.click("text=Create endpoint")
    expect(page.locator("[data-error-for=url]")).to_be_visible()
    assert page.eval_on_selector_all("input[name=header_name]", "inputs => inputs.map(i => i.value)") == ["X-Team", ""]

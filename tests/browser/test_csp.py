"""The Content-Security-Policy in a real browser: every main page works under it and Chromium reports no violation."""

import re

import pytest
from playwright.sync_api import expect

from tenants.models import Role, Tenant
from tenants.services import add_member, create_tenant, ensure_user

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

PASSWORD = "browser-pass-123"


@pytest.fixture
def watched_page(hub_server, page, transactional_db):
    """The page, logged in through the form as a staff owner of `acme`, with every CSP violation Chromium reports."""
    tenant, _ = create_tenant("acme")
    user, _ = ensure_user("olivia", PASSWORD, is_staff=True, is_superuser=True)
    add_member(tenant, user, Role.OWNER)
    page.violations = []
    page.on("console", lambda m: page.violations.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None)
    page.add_init_script("""document.addEventListener("securitypolicyviolation", (e) => {
        console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`); });""")
    log_in(page, hub_server, "olivia", PASSWORD)
    return page


def test_the_dashboard_pages_work_under_the_policy_without_a_violation(hub_server, watched_page):
    page = watched_page
    for path in ["", "catalog/", "catalog/product.created/", "endpoints/", "deliveries/", "sources/", "members/"]:
        response = page.goto(f"{hub_server}/t/acme/{path}")
        assert response.status == 200 and "'unsafe-inline'" not in response.headers["content-security-policy"], path

    page.goto(f"{hub_server}/t/acme/catalog/")
    page.fill("input[type=search]", "product created")  # the page's own script runs
    assert page.is_hidden("tr[data-filter-text*='category.created']")
    page.goto(f"{hub_server}/t/acme/catalog/product.created/")
    page.click("text=Subscribe with these fields")
    page.wait_for_selector(".msg-success")  # and the page shows the subscription's version

    page.goto(f"{hub_server}/t/acme/endpoints/new/")
    page.fill("#id_url", "https://hooks.example.com/products")
    page.check(".type-picker input[value='product.created']")
    page.fill("#id_preview_type", "product.created")
    page.fill("#id_preview_sample", '{"id": "p-1"}')  # the live preview fetches from this origin
    expect(page.locator("[data-preview-body]")).to_contain_text("p-1", timeout=10_000)

    page.goto(f"{hub_server}/t/acme/live/")
    page.wait_for_selector('#lv-conn[data-state="connected"]')  # the websocket is allowed by connect-src 'self'
    assert page.violations == [], "\n".join(page.violations)


def test_the_api_docs_and_the_admin_work_under_their_policies_without_a_violation(hub_server, watched_page):
    page = watched_page
    page.goto(f"{hub_server}/api/docs/")
    page.wait_for_selector("[data-path='/webhook/{tenant}/event-subscriptions']")  # Swagger UI ran and rendered the schema
    page.goto(f"{hub_server}/api/redoc/")
    page.get_by_text("/webhook/{tenant}/event-subscriptions").first.wait_for(state="attached")
    page.goto(f"{hub_server}/admin/")
    page.click("text=Tenants")
    page.goto(f"{hub_server}/admin/tenants/tenant/{Tenant.objects.get(name='acme').pk}/change/")
    page.wait_for_selector("input[name=_save]")
    # Redoc links its vendor's logo from the internet; the policy refuses that one image, and nothing else.
    violations = [v for v in page.violations if "https://cdn.redoc.ly/" not in v]
    assert violations == [], "\n".join(violations)


def test_an_injected_inline_script_is_refused(hub_server, watched_page):
    """The policy bites: the same page with an inline script added (as an XSS would) reports the violation."""
    page = watched_page
    page.goto(f"{hub_server}/t/acme/")
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.ran = 1"; document.body.append(s); }""")
    assert page.evaluate("window.ran") is None
    assert any(re.search(r"script-src", v) for v in page.violations)

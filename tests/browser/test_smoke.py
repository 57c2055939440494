"""The browser harness itself: the hub serves pages to a real headless chromium."""

import pytest

pytestmark = pytest.mark.browser


def test_the_api_docs_render_in_chromium_without_any_cdn(hub_server, page):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(hub_server) else None)
    page.goto(f"{hub_server}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "eventhub API" in page.inner_text(".swagger-ui .info .title")
    assert outside == []

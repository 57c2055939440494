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


def test_assets_are_served_over_asgi_without_the_streaming_warning(hub_server):
    """WhiteNoise's synchronous file iterator made Django warn "StreamingHttpResponse must consume synchronous
    iterators" for every asset served over ASGI (the server logs and the suite's warnings); ServeStatic streams async."""
    import urllib.request
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with urllib.request.urlopen(f"{hub_server}/static/eventhub/app.css") as response:
            assert response.status == 200 and b"--accent" in response.read()
    assert [str(w.message) for w in caught if "StreamingHttpResponse" in str(w.message)] == []

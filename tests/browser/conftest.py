"""A real hub for browser tests: uvicorn serving the ASGI app (HTTP and websockets) and Debian's headless chromium.

`hub_server` runs in a thread of the test process against the test database (transactional, so what the test
writes is committed and the server sees it, and the in-memory channel layer is shared with the test).
`page` is a Playwright page in /usr/bin/chromium: nothing is downloaded.
"""

import os
import shutil
import threading
import time

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


@pytest.fixture
def hub_server(transactional_db, settings):
    """Base URL of a running hub, e.g. http://127.0.0.1:41234."""
    import uvicorn

    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    # Port 0: the server binds a free port itself; read it once it listens (no race for a port picked beforehand).
    config = uvicorn.Config("eventhub.asgi:application", host="127.0.0.1", port=0, lifespan="off", log_level="warning", ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="hub-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the hub server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def chromium():
    # Playwright's sync API runs an event loop in this thread; Django's ORM must still be usable from the test.
    # Module scope: while that loop runs, asyncio tests (pytest-asyncio, WebsocketCommunicator) cannot, so it is
    # closed after each browser module instead of lingering for the rest of the session.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page, hub_server, username, password, tenant="acme"):
    """Log in through the dashboard's own form, as a person does, and land on the tenant's overview."""
    page.goto(f"{hub_server}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub_server}/t/{tenant}/")

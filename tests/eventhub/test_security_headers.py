"""What every page says to the browser (Content-Security-Policy), and what a refused request leaves in the log."""

import logging
import re
from pathlib import Path

import pytest
from django.test import Client

from eventhub.log_filters import ClientErrorsWithoutTraceback
from subscriptions.endpoints.services import create_endpoint
from tenants.models import Role
from tenants.services import add_member, ensure_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def policy(response):
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    return {name: sources for name, *sources in (part.split() for part in header.split(";") if part.strip())}


@pytest.fixture
def owner(tenant):
    user, _ = ensure_user("olivia", "pw-123456!", is_staff=True, is_superuser=True)
    add_member(tenant, user, Role.OWNER)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", ["/login/", "/t/acme/", "/t/acme/catalog/", "/t/acme/endpoints/new/", "/t/acme/live/", "/admin/", "/api/docs/"])
def test_pages_send_a_policy_that_runs_no_inline_script_and_forbids_framing(owner, path):
    response = (Client() if path == "/login/" else owner).get(path)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["script-src"] == ["'self'"] and directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in directives.get("style-src", []) and "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_the_swagger_page_loads_its_start_up_script_as_a_file_from_this_origin(owner):
    page = owner.get("/api/docs/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script would be refused by the policy"
    script = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', page).group(1).replace("&amp;", "&")
    response = owner.get(script)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in response.content.decode()


def test_only_the_redoc_page_allows_inline_style_and_never_inline_script(owner):
    directives = policy(owner.get("/api/redoc/"))
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"] and directives["script-src"] == ["'self'"]


def test_no_template_holds_an_inline_script_an_event_handler_or_a_style_attribute():
    """What the policy would refuse in a browser, found before one is opened."""
    offending = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"<[^>]*\son[a-z]+\s*=", r"<[^>]*\sstyle\s*=", r"<style\b", r"javascript:"):
            offending += [f"{template.relative_to(ROOT)}: {m.group(0)}" for m in re.finditer(pattern, text, re.IGNORECASE)]
    assert offending == []


def refused_lines(caplog):
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("django")]


def test_a_viewer_refused_an_editor_action_logs_one_warning_line_without_a_traceback(tenant, caplog):
    user, _ = ensure_user("vic", "pw-123456!")
    add_member(tenant, user, Role.VIEWER)
    viewer = Client()
    viewer.force_login(user)
    endpoint = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})[0]
    caplog.set_level(logging.INFO)
    assert viewer.post(f"/t/acme/endpoints/{endpoint.pk}/rotate-secret/").status_code == 403
    (line,) = refused_lines(caplog)
    assert line.levelname == "WARNING" and "Forbidden" in line.getMessage()
    assert line.exc_info is None and "Traceback" not in caplog.text


def test_a_token_without_the_scope_logs_one_warning_line_without_a_traceback(tenant, api_client_for, caplog):
    client = api_client_for(tenant, "webhook.event_read")
    caplog.set_level(logging.INFO)
    assert client.get("/webhook/acme/endpoints").status_code == 403
    (line,) = refused_lines(caplog)
    assert line.levelname == "WARNING" and line.exc_info is None and "Traceback" not in caplog.text


def test_a_server_error_still_logs_its_traceback():
    """The filter quiets client errors only: a 500 keeps everything needed to find its cause."""
    exc_info = (RuntimeError, RuntimeError("boom"), None)
    server_error = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /", (), exc_info)
    server_error.status_code = 500
    assert ClientErrorsWithoutTraceback().filter(server_error) and server_error.exc_info == exc_info

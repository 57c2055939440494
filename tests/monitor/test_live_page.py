"""GET /t/<tenant>/live/: the viewer page, for logged-in members only (others get a 404 or the login redirect)."""

import pytest
from django.urls import reverse

from tenants.services import ensure_user

pytestmark = pytest.mark.django_db


def test_the_page_is_named_monitor_live():
    assert reverse("monitor:live", args=["acme"]) == "/t/acme/live/"


def test_a_member_gets_the_viewer_wired_to_the_tenants_websocket(client, member):
    client.force_login(member)
    response = client.get("/t/acme/live/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-ws-path="/ws/monitor/acme/"' in html and "monitor/live.js" in html and "monitor/live.css" in html
    assert '<canvas id="lv-chart"' in html


def test_an_anonymous_visitor_is_sent_to_log_in(client, tenant):
    response = client.get("/t/acme/live/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/t/acme/live/")


def test_a_non_member_gets_404_as_if_the_tenant_did_not_exist(client, tenant, other_tenant, member):
    client.force_login(member)
    assert client.get("/t/globex/live/").status_code == 404
    assert client.get("/t/nosuch/live/").status_code == 404
    stranger, _ = ensure_user("sam")
    client.force_login(stranger)
    assert client.get("/t/acme/live/").status_code == 404

"""Portal links over the API: made with a URL given once, refused when altered, expired or revoked, single-tenant,
framed only where the owner says; and create_portal_link for other code."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import PortalLink
from subscriptions.portal.links import MAX_EXPIRES_IN, PortalInvalid, create_portal_link

pytestmark = pytest.mark.django_db

BASE = "/webhook/acme"


@pytest.fixture
def endpoints(tenant):
    return [create_endpoint(tenant, {"url": f"https://hooks.example.com/{name}", "events": ["product.*"]})[0] for name in ("a", "b")]


def make(api, **body):
    return api.post(f"{BASE}/portal-links", body, format="json")


def path_of(url):
    return re.sub(r"^http://testserver", "", url)


def test_a_link_answers_id_url_and_expiry_and_is_listed_without_its_url(api, endpoints):
    response = make(api, endpoints=[str(endpoints[0].pk)], role="editor", expiresIn=7200)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"id", "url", "expiresAt"} and body["role"] == "editor" and body["endpoints"] == [str(endpoints[0].pk)]
    token = re.fullmatch(r"http://testserver/portal/(ehp_[A-Za-z0-9_-]{43})/", body["url"]).group(1)
    link = PortalLink.objects.get(pk=body["id"])
    assert link.expires_at - link.created_at == timedelta(seconds=7200) and body["expiresAt"].startswith(link.expires_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert token not in str(PortalLink.objects.filter(pk=link.pk).values().get())  # only a digest is kept
    listed = api.get(f"{BASE}/portal-links").json()
    assert [item["id"] for item in listed] == [body["id"]] and "url" not in listed[0] and listed[0]["state"] == "active"
    assert api.get(f"{BASE}/portal-links/{body['id']}").json()["endpoints"] == [str(endpoints[0].pk)]
    assert Client().get(path_of(body["url"])).status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"endpoints": None, "role": "owner"}, "role"),
    ({"endpoints": None, "expiresIn": MAX_EXPIRES_IN + 1}, "expiresIn"),
    ({"endpoints": None, "expiresIn": 0}, "expiresIn"),
    ({"endpoints": None, "expiresIn": True}, "expiresIn"),
    ({"endpoints": None, "expiresIn": "3600"}, "expiresIn"),
    ({"endpoints": None, "expiresIn": 3600.5}, "expiresIn"),
    ({"endpoints": []}, "endpoints"),
    ({"endpoints": "all"}, "endpoints"),
    ({"endpoints": ["not-an-id"]}, "endpoints[0]"),
    ({"endpoints": [{"id": 1}]}, "endpoints[0]"),
    ({"role": "viewer"}, "endpoints"),
    ({"endpoints": None, "scope": "everything"}, "scope"),
])
def test_a_bad_request_is_a_400_naming_the_field_and_makes_no_link(api, endpoints, body, field):
    response = make(api, **body)
    assert response.status_code == 400, response.content
    assert field in [detail["field"] for detail in response.json()["problems"]]
    assert not PortalLink.objects.exists()


def test_a_link_never_shows_another_tenants_endpoint(api, other_tenant, endpoints):
    theirs = create_endpoint(other_tenant, {"url": "https://hooks.example.com/theirs", "events": ["*"]})[0]
    response = make(api, endpoints=[str(endpoints[0].pk), str(theirs.pk)])
    assert response.status_code == 400
    assert response.json()["problems"] == [{"field": "endpoints[1]", "message": f"No endpoint '{theirs.pk}' in this tenant."}]


def test_revoking_refuses_the_link_from_the_next_request(api, api_client_for, other_tenant, endpoints):
    body = make(api, endpoints=None).json()
    page = path_of(body["url"])
    assert Client().get(page).status_code == 200
    assert api_client_for(other_tenant).delete(f"/webhook/globex/portal-links/{body['id']}").status_code == 404
    assert Client().get(page).status_code == 200
    assert api.delete(f"{BASE}/portal-links/{body['id']}").status_code == 204
    refused = Client().get(page)
    assert refused.status_code == 410 and b"was revoked" in refused.content
    assert api.get(f"{BASE}/portal-links/{body['id']}").json()["state"] == "revoked"
    assert api.delete(f"{BASE}/portal-links/{body['id']}").status_code == 204  # revoking twice keeps the first time
    assert api.delete(f"{BASE}/portal-links/00000000-0000-4000-8000-000000000000").status_code == 404
    assert api.delete(f"{BASE}/portal-links/nope").status_code == 404


def test_an_expired_link_is_refused(api, endpoints):
    body = make(api, endpoints=None, expiresIn=60).json()
    PortalLink.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = Client().get(path_of(body["url"]))
    assert refused.status_code == 410 and b"has expired" in refused.content


@pytest.mark.parametrize("alter", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character changed
    lambda t: t[:-1],  # copied incompletely
    lambda t: t + "A",
    lambda t: t.upper(),
    lambda t: "ehp_" + "A" * 43,
])
def test_an_altered_token_is_refused(api, endpoints, alter):
    body = make(api, endpoints=None).json()
    token = body["url"].rstrip("/").rsplit("/", 1)[1]
    refused = Client().get(f"/portal/{alter(token)}/")
    assert refused.status_code == 404 and b"is not valid" in refused.content
    assert Client().get(path_of(body["url"])).status_code == 200


def test_create_portal_link_for_other_code_covers_later_endpoints_when_given_none(tenant, endpoints):
    link, path = create_portal_link(tenant, endpoints=None, role="viewer", expires_in=600, created_by="emporix")
    later = create_endpoint(tenant, {"url": "https://hooks.example.com/later", "events": ["*"]})[0]
    page = Client().get(path).content.decode()
    assert all(str(e.pk) in page for e in [*endpoints, later]) and link.created_by == "emporix"
    only_a, path_a = create_portal_link(tenant, endpoints=[endpoints[0]], role="editor", expires_in=600)
    assert str(endpoints[1].pk) not in Client().get(path_a).content.decode()
    with pytest.raises(PortalInvalid) as refused:
        create_portal_link(tenant, endpoints=None, role="viewer", expires_in=MAX_EXPIRES_IN + 1)
    assert refused.value.details[0]["field"] == "expiresIn"


def test_a_link_whose_endpoints_were_all_deleted_shows_none_never_all(tenant, endpoints):
    _, path = create_portal_link(tenant, endpoints=[endpoints[0]], role="viewer", expires_in=600)
    endpoints[0].delete()
    page = Client().get(path).content.decode()
    assert str(endpoints[1].pk) not in page and "shows no endpoint" in page


def csp(response):
    return {name: sources for name, *sources in (part.split() for part in response["Content-Security-Policy"].split(";") if part.strip())}


def test_only_the_origins_the_owner_lists_may_frame_the_portal_and_nothing_else_changes(api, endpoints):
    page = path_of(make(api, endpoints=None).json()["url"])
    response = Client().get(page)
    assert csp(response)["frame-ancestors"] == ["'none'"] and "X-Frame-Options" not in response
    bad = api.put(f"{BASE}/portal-settings", {"frameOrigins": ["https://ok.example.com", "https://a.example.com/path",
                                                              "https://x.example.com; script-src *", "*", "ftp://f.example.com"]}, format="json")
    assert bad.status_code == 400
    assert [d["field"] for d in bad.json()["problems"]] == [f"frameOrigins[{i}]" for i in (1, 2, 3, 4)]
    saved = api.put(f"{BASE}/portal-settings", {"frameOrigins": ["https://Shop.Example.com/", "http://127.0.0.1:8080", "https://shop.example.com"]}, format="json")
    assert saved.json() == {"frameOrigins": ["https://shop.example.com", "http://127.0.0.1:8080"]}
    assert api.get(f"{BASE}/portal-settings").json() == saved.json()
    response = Client().get(page)
    assert csp(response)["frame-ancestors"] == ["https://shop.example.com", "http://127.0.0.1:8080"]
    assert csp(response)["script-src"] == ["'self'"] and "X-Frame-Options" not in response
    login = Client().get("/login/")  # every other page: no framing at all, as before
    assert csp(login)["frame-ancestors"] == ["'none'"] and login["X-Frame-Options"] == "DENY"
    assert api.put(f"{BASE}/portal-settings", {"frameOrigins": []}, format="json").json() == {"frameOrigins": []}
    assert csp(Client().get(page))["frame-ancestors"] == ["'none'"]


def test_prune_removes_links_that_ended_before_the_retention_period_only(tenant, endpoints):
    from django.core.management import call_command

    now = timezone.now()
    made = {name: create_portal_link(tenant, endpoints=[endpoints[0]], role="viewer", expires_in=600)[0]
            for name in ("active", "expired long ago", "revoked long ago", "expired lately", "revoked lately")}
    PortalLink.objects.filter(pk=made["expired long ago"].pk).update(expires_at=now - timedelta(days=31))
    PortalLink.objects.filter(pk=made["revoked long ago"].pk).update(revoked_at=now - timedelta(days=31))
    PortalLink.objects.filter(pk=made["expired lately"].pk).update(expires_at=now - timedelta(days=29))
    PortalLink.objects.filter(pk=made["revoked lately"].pk).update(revoked_at=now - timedelta(days=29))
    call_command("prune", "--days", "30")
    kept = set(PortalLink.objects.values_list("pk", flat=True))
    assert kept == {made[name].pk for name in ("active", "expired lately", "revoked lately")}
    assert endpoints[0].portal_links.count() == 3

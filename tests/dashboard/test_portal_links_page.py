"""The dashboard's Portal links page (owners): make a link and see its URL once, revoke it, list the framing sites."""

import re

import pytest
from django.test import Client

from subscriptions.models import PortalLink
from subscriptions.portal.framing import frame_origins

pytestmark = pytest.mark.django_db

PAGE = "/t/acme/portal-links/"


def test_only_owners_see_the_page_and_its_menu_entry(viewer, editor, owner):
    assert viewer.get(PAGE).status_code == 403 and editor.get(PAGE).status_code == 403
    assert editor.post(PAGE, {"all_endpoints": "on", "role": "editor", "expires_in": 3600}).status_code == 403
    assert not PortalLink.objects.exists()
    assert b'href="/t/acme/portal-links/"' not in editor.get("/t/acme/").content
    assert b'href="/t/acme/portal-links/"' in owner.get("/t/acme/").content


def test_an_owner_makes_a_link_sees_its_url_once_and_revokes_it(owner, endpoint):
    response = owner.post(PAGE, {"endpoints": [str(endpoint.pk)], "role": "editor", "expires_in": 24 * 3600})
    assert response.status_code == 302 and response.url == PAGE
    link = PortalLink.objects.get()
    assert link.role == "editor" and list(link.endpoints.all()) == [endpoint] and link.created_by == owner.user.username
    shown = owner.get(PAGE).content.decode()
    url = re.search(r'id="portal-url" class="secret">(http://testserver/portal/ehp_[^<]+)<', shown).group(1)
    assert Client().get(url.replace("http://testserver", "")).status_code == 200
    assert url not in owner.get(PAGE).content.decode()  # a reload shows it gone
    assert owner.post(f"{PAGE}{link.pk}/revoke/").url == PAGE
    assert Client().get(url.replace("http://testserver", "")).status_code == 410
    assert 'data-link-state>revoked<' in owner.get(PAGE).content.decode()


def test_a_link_needs_endpoints_or_all_and_says_so_at_the_field(owner, endpoint):
    response = owner.post(PAGE, {"role": "viewer", "expires_in": 3600})
    assert response.status_code == 400 and b'data-error-for="endpoints"' in response.content
    response = owner.post(PAGE, {"all_endpoints": "on", "role": "viewer", "expires_in": 999})
    assert response.status_code == 400 and b'data-error-for="expires_in"' in response.content
    assert not PortalLink.objects.exists()


def test_an_owner_lists_the_sites_that_may_frame_the_portal(owner, tenant):
    bad = owner.post(f"{PAGE}frame-origins/", {"origins": "https://shop.example.com\nhttps://shop.example.com/embed"})
    assert bad.status_code == 400 and "Origin 2: Must be an origin" in bad.content.decode() and frame_origins(tenant.pk) == []
    good = owner.post(f"{PAGE}frame-origins/", {"origins": "https://shop.example.com\n\nhttps://admin.example.com:8443\n"})
    assert good.url == PAGE and frame_origins(tenant.pk) == ["https://shop.example.com", "https://admin.example.com:8443"]
    assert "https://admin.example.com:8443" in owner.get(PAGE).content.decode()


def test_another_tenants_link_cannot_be_revoked_from_here(owner, other_tenant, client_as):
    from subscriptions.portal.links import create_portal_link

    theirs, path = create_portal_link(other_tenant, endpoints=None, role="viewer", expires_in=600)
    owner.post(f"{PAGE}{theirs.pk}/revoke/")
    assert PortalLink.objects.get(pk=theirs.pk).revoked_at is None and Client().get(path).status_code == 200

"""The portal's pages as a consumer meets them through a link, without an account: limited to the link's tenant and
endpoints, changes only with an editor link, through the same actions as the dashboard and the API; no cookie."""

import logging

import pytest
from django.test import Client

from subscriptions.endpoints.services import create_endpoint, signing_secrets
from subscriptions.models import Delivery, DeliveryStatus, EndpointSecret, Event
from subscriptions.portal.links import create_portal_link
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db


def delivery_to(endpoint, status=DeliveryStatus.FAILED, event_id=None):
    from django.utils import timezone

    now = timezone.now()
    event = Event.objects.create(tenant=endpoint.tenant, event_id=event_id or f"evt-{Event.objects.count()}", type="product.created",
                                 timestamp=now, data={"id": "p1"}, received_at=now)
    return Delivery.objects.create(tenant=endpoint.tenant, event=event, endpoint=endpoint, url=endpoint.url, event_type="product.created",
                                   body='{"id":"p1"}', status=status, attempt_count=1, created_at=now, finished_at=now)


@pytest.fixture
def shop(tenant, other_tenant):
    """Two endpoints of acme (the link shows `mine`), one of globex, a failed delivery to each."""
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    mine = create_endpoint(tenant, {"url": "https://hooks.example.com/mine", "events": ["product.*"], "headers": {"Authorization": "Bearer rcv-cred"}})[0]
    other = create_endpoint(tenant, {"url": "https://hooks.example.com/other", "events": ["product.*"]})[0]
    theirs = create_endpoint(other_tenant, {"url": "https://hooks.example.com/theirs", "events": ["product.*"]})[0]
    return {"mine": mine, "other": other, "theirs": theirs,
            "deliveries": {name: delivery_to(e) for name, e in (("mine", mine), ("other", other), ("theirs", theirs))}}


def link_for(shop, role):
    return create_portal_link(shop["mine"].tenant, endpoints=[shop["mine"]], role=role, expires_in=3600)[1]


def test_a_viewer_link_shows_its_endpoint_deliveries_and_attempts_and_nothing_else(shop):
    base, client = link_for(shop, "viewer"), Client()
    home = client.get(base)
    assert home.status_code == 200 and shop["mine"].url.encode() in home.content and shop["other"].url.encode() not in home.content
    page = client.get(f"{base}endpoints/{shop['mine'].pk}/").content.decode()
    mine = shop["deliveries"]["mine"]
    assert f"deliveries/{mine.pk}/" in page and "Retry now" not in page and "Rotate secret" not in page
    assert "rcv-cred" not in page and "Authorization" in page  # header values are for editor links
    assert client.get(f"{base}deliveries/{mine.pk}/").status_code == 200
    for path in (f"endpoints/{shop['other'].pk}/", f"endpoints/{shop['theirs'].pk}/", f"deliveries/{shop['deliveries']['other'].pk}/",
                 f"deliveries/{shop['deliveries']['theirs'].pk}/", "endpoints/not-a-uuid/", "deliveries/99999999/"):
        assert client.get(base + path).status_code == 404, path
    assert not client.cookies  # no session, no CSRF cookie: nothing that opens the dashboard
    assert client.get("/t/acme/").status_code == 302


def test_a_viewer_link_cannot_change_anything(shop):
    base, client = link_for(shop, "viewer"), Client()
    mine = shop["deliveries"]["mine"]
    assert client.post(f"{base}deliveries/{mine.pk}/retry/").status_code == 403
    assert client.post(f"{base}endpoints/{shop['mine'].pk}/test/", {"event_type": "product.created"}).status_code == 403
    assert client.post(f"{base}endpoints/{shop['mine'].pk}/rotate-secret/").status_code == 403
    mine.refresh_from_db()
    assert mine.status == DeliveryStatus.FAILED and Delivery.objects.count() == 3 and EndpointSecret.objects.count() == 3
    assert client.get(f"{base}deliveries/{mine.pk}/retry/").status_code == 405


def test_an_editor_link_retries_with_the_same_webhook_id_only_its_own_deliveries(shop):
    base, client = link_for(shop, "editor"), Client()
    mine, other = shop["deliveries"]["mine"], shop["deliveries"]["other"]
    response = client.post(f"{base}deliveries/{mine.pk}/retry/")
    assert response.status_code == 302 and response.url == f"{base}deliveries/{mine.pk}/?done=retried"
    assert b"due again" in client.get(response.url).content
    retried = Delivery.objects.get(pk=mine.pk)
    assert retried.status == DeliveryStatus.PENDING and retried.webhook_id == mine.webhook_id
    assert client.post(f"{base}deliveries/{other.pk}/retry/").status_code == 404
    assert client.post(f"{base}deliveries/{shop['deliveries']['theirs'].pk}/retry/").status_code == 404
    assert {d.status for d in Delivery.objects.exclude(pk=mine.pk)} == {DeliveryStatus.FAILED}
    assert not client.cookies


def test_an_editor_link_sends_test_events_of_the_endpoints_types_only(shop):
    base, client = link_for(shop, "editor"), Client()
    page = client.get(f"{base}endpoints/{shop['mine'].pk}/").content.decode()
    assert '<option value="product.created">' in page and '<option value="entryCreated">' not in page
    response = client.post(f"{base}endpoints/{shop['mine'].pk}/test/", {"event_type": "product.created"})
    delivery = Delivery.objects.latest("id")
    assert response.url == f"{base}deliveries/{delivery.pk}/?done=test"
    assert delivery.endpoint == shop["mine"] and delivery.event.origin == "test" and delivery.status == DeliveryStatus.PENDING
    refused = client.post(f"{base}endpoints/{shop['mine'].pk}/test/", {"event_type": "entryCreated"})
    assert refused.status_code == 400 and Delivery.objects.count() == 4
    assert client.post(f"{base}endpoints/{shop['other'].pk}/test/", {"event_type": "product.created"}).status_code == 404


def test_an_editor_link_rotates_a_secret_and_shows_the_new_one_once(shop):
    base, client = link_for(shop, "editor"), Client()
    endpoint = shop["mine"]
    before = set(signing_secrets(endpoint))
    response = client.post(f"{base}endpoints/{endpoint.pk}/rotate-secret/")
    assert response.status_code == 302 and response.url == f"{base}endpoints/{endpoint.pk}/?done=rotated"
    new = EndpointSecret.objects.filter(endpoint=endpoint).latest("created_at").secret
    assert new not in before and before < set(signing_secrets(endpoint))  # the previous one keeps signing
    shown = client.get(response.url).content.decode()
    assert new in shown and "data-secret-once" in shown and "rcv-cred" in shown
    again = client.get(response.url).content.decode()
    assert new not in again and "data-secret-once" not in again
    assert client.post(f"{base}endpoints/{shop['other'].pk}/rotate-secret/").status_code == 404


def test_another_link_of_the_same_tenant_never_sees_a_secret_rotated_through_this_one(shop):
    editor, other_editor = link_for(shop, "editor"), link_for(shop, "editor")
    Client().post(f"{editor}endpoints/{shop['mine'].pk}/rotate-secret/")
    new = EndpointSecret.objects.filter(endpoint=shop["mine"]).latest("created_at").secret
    assert new not in Client().get(f"{other_editor}endpoints/{shop['mine'].pk}/").content.decode()
    assert new in Client().get(f"{editor}endpoints/{shop['mine'].pk}/").content.decode()


def test_delivery_search_in_the_portal_finds_by_webhook_id_and_event_id_within_the_link(shop):
    base, client = link_for(shop, "viewer"), Client()
    mine, other = shop["deliveries"]["mine"], shop["deliveries"]["other"]
    page = f"{base}endpoints/{shop['mine'].pk}/"
    assert f"deliveries/{mine.pk}/" in client.get(page, {"q": mine.webhook_id}).content.decode()
    assert f"deliveries/{mine.pk}/" in client.get(page, {"q": mine.event.event_id}).content.decode()
    assert f"deliveries/{other.pk}/" not in client.get(page, {"q": other.webhook_id}).content.decode()
    assert f"deliveries/{mine.pk}/" not in client.get(page, {"status": "succeeded"}).content.decode()


def test_portal_pages_are_not_cached_and_send_no_referer(shop):
    response = Client().get(link_for(shop, "viewer"))
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "no-referrer"


def test_a_dashboard_path_through_the_portal_is_not_found(shop):
    base = link_for(shop, "editor")
    for path in ("t/acme/", "t/acme/endpoints/", "admin/", "webhook/acme/endpoints", "../t/acme/"):
        response = Client().get(base + path)
        assert response.status_code == 404, path
        assert shop["other"].url.encode() not in response.content


def test_logs_show_portal_paths_with_the_token_masked(shop, caplog):
    import uvicorn

    base = link_for(shop, "viewer")
    token = base.split("/")[2]
    uvicorn.Config("eventhub.asgi:application", log_level="info")  # uvicorn configures its loggers as `serve` starts it
    caplog.set_level(logging.INFO)
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(handler.format(record))
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"{base}endpoints/", "1.1", 200)
        Client().get(f"{base}endpoints/00000000-0000-4000-8000-000000000000/")  # a 404: django.request logs the path
    finally:
        access.removeHandler(handler)
    lines += [record.getMessage() for record in caplog.records if record.name == "django.request"]
    assert any("/portal/ehp_…/endpoints/" in line for line in lines) and len(lines) >= 2
    assert not any(token in line for line in lines)

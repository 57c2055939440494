"""The dashboard's pages and actions, as a user of each role meets them."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.endpoints.services import create_endpoint, update_endpoint
from subscriptions.models import (
    Attempt, DeadLetter, Delivery, DeliveryStatus, Endpoint, EndpointSecret, Event, EventSubscription, Source,
)
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tenants.models import Membership, Role
from tenants.services import ensure_user

pytestmark = pytest.mark.django_db

BASE = "/t/acme/"


def make_delivery(tenant, endpoint, status=DeliveryStatus.SUCCEEDED, event_type="product.created", error="", minutes_ago=1, at=None):
    now = at or timezone.now() - timedelta(minutes=minutes_ago)
    event = Event.objects.create(tenant=tenant, event_id=f"e-{Event.objects.count()}", type=event_type, timestamp=now, data={"id": "p1"}, received_at=now)
    return Delivery.objects.create(tenant=tenant, event=event, endpoint=endpoint, url=endpoint.url if endpoint else "https://gone.example.com",
                                   event_type=event_type, body='{"id":"e1","data":{"id":"p1"}}', status=status, last_error=error, created_at=now)


def test_front_door_sends_anonymous_users_to_login_and_members_to_their_first_tenant(client, viewer):
    assert client.get("/").url == "/login/"
    assert viewer.get("/").url == BASE
    assert client.get(BASE).url.startswith("/login/?next=")


def test_login_page_logs_in_and_logout_is_a_post(client, tenant):
    user, _ = ensure_user("ann", "s3cret-pass!")
    Membership.objects.create(user=user, tenant=tenant, role=Role.VIEWER)
    page = client.get("/login/")
    assert page.status_code == 200 and b'name="password"' in page.content and b"csrfmiddlewaretoken" in page.content
    bad = client.post("/login/", {"username": "ann", "password": "wrong"})
    assert bad.status_code == 200 and b"alert" in bad.content
    assert client.post("/login/", {"username": "ann", "password": "s3cret-pass!"}).url == "/"
    assert client.get(BASE).status_code == 200
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").url == "/login/"
    assert client.get(BASE).status_code == 302


@pytest.mark.parametrize("path", ["", "catalog/", "catalog/product.created/", "endpoints/", "events/", "deliveries/", "sources/", "dead-letters/"])
def test_every_page_renders_for_a_viewer_with_the_nav_and_tenant_switcher(viewer, other_tenant, client_as, path):
    client_as(Role.VIEWER, on=other_tenant)  # another user; the viewer sees only their own tenants
    response = viewer.get(BASE + path)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/t/acme/live/"' in html and 'href="/t/acme/catalog/"' in html
    assert "/t/globex/" not in html
    assert 'href="/t/acme/members/"' not in html  # owners only


def test_a_user_of_tenant_a_cannot_see_tenant_b_by_url_guessing(client_as, tenant, other_tenant):
    theirs = create_endpoint(other_tenant, {"url": "https://b.example.com", "events": ["*"]})[0]
    delivery = make_delivery(other_tenant, theirs)
    mine = client_as(Role.OWNER)
    for path in ["/t/globex/", "/t/globex/catalog/", "/t/globex/endpoints/", f"/t/globex/endpoints/{theirs.pk}/",
                 "/t/globex/deliveries/", f"/t/globex/deliveries/{delivery.pk}/", "/t/globex/members/", "/t/nope/",
                 f"{BASE}endpoints/{theirs.pk}/", f"{BASE}endpoints/{theirs.pk}/edit/", f"{BASE}deliveries/{delivery.pk}/"]:
        assert mine.get(path).status_code == 404, path
    for path in [f"{BASE}endpoints/{theirs.pk}/toggle/", f"{BASE}endpoints/{theirs.pk}/delete/", f"{BASE}endpoints/{theirs.pk}/rotate-secret/",
                 f"{BASE}deliveries/{delivery.pk}/retry/", f"/t/globex/endpoints/{theirs.pk}/delete/"]:
        assert mine.post(path, {"enabled": "0", "version": theirs.version}).status_code == 404, path
    theirs.refresh_from_db()
    assert theirs.enabled and theirs.version == 1


def test_a_viewer_cannot_change_anything(viewer, tenant, endpoint):
    delivery = make_delivery(tenant, endpoint, status=DeliveryStatus.FAILED)
    member = Membership.objects.get(user=viewer.user)
    posts = {
        "catalog/": {"toggle": "SUBSCRIBE:product.created"},
        "catalog/product.created/": {"action": "SUBSCRIBE", "excluded": ["name"]},
        "endpoints/new/": {"url": "https://x.example.com", "events": ["product.created"], "method": "POST", "timeout_seconds": 5},
        "endpoints/preview/": {"url": "https://x.example.com", "events": ["product.created"], "preview_type": "product.created"},
        f"endpoints/{endpoint.pk}/edit/": {"url": "https://y.example.com", "version": 1},
        f"endpoints/{endpoint.pk}/toggle/": {"enabled": "0", "version": 1},
        f"endpoints/{endpoint.pk}/test/": {"event_type": "product.created"},
        f"endpoints/{endpoint.pk}/rotate-secret/": {},
        f"endpoints/{endpoint.pk}/replay/": {"since": "2000-01-01T00:00"},
        f"endpoints/{endpoint.pk}/delete/": {},
        f"deliveries/{delivery.pk}/retry/": {},
        "members/": {"who": "viewer-acme", "role": "owner"},
        f"members/{member.pk}/": {"role": "owner"},
    }
    before = (Delivery.objects.count(), EndpointSecret.objects.count(), Endpoint.objects.count(), EventSubscription.objects.count())
    for path, data in posts.items():
        assert viewer.post(BASE + path, data).status_code == 403, path
    endpoint.refresh_from_db()
    delivery.refresh_from_db()
    member.refresh_from_db()
    assert (endpoint.url, endpoint.enabled, endpoint.version) == ("https://hooks.example.com/a", True, 1)
    assert delivery.status == DeliveryStatus.FAILED and member.role == Role.VIEWER
    assert before == (Delivery.objects.count(), EndpointSecret.objects.count(), Endpoint.objects.count(), EventSubscription.objects.count())
    for path in ["endpoints/new/", f"endpoints/{endpoint.pk}/edit/", "members/"]:
        assert viewer.get(BASE + path).status_code == 403, path


# --- overview --------------------------------------------------------------------------------


def test_overview_counts_the_last_hour_and_lists_failing_endpoints(viewer, tenant, endpoint):
    for _ in range(3):
        make_delivery(tenant, endpoint)
    make_delivery(tenant, endpoint, status=DeliveryStatus.FAILED, error="HTTP 500 from the receiver")
    make_delivery(tenant, endpoint, minutes_ago=90)  # outside the hour
    DeadLetter.objects.create(tenant=tenant, reason="unknown type", received_at=timezone.now())
    html = viewer.get(BASE).content.decode()
    assert "75.0%" in html  # 3 of 4 tried in the hour
    assert "4 / hour" in html  # events, the 90-minute-old one excluded: a count per hour, not "0.00 / s"
    assert "HTTP 500 from the receiver" in html and endpoint.url in html
    assert html.count('class="layer-succeeded"') == 1 and html.count('class="layer-failing"') == 1  # stacked in the one minute
    assert 'class="tick tick-y">0<' in html and 'class="tick tick-x"' in html  # axes carry values
    assert 'href="/t/acme/live/"' in html


def test_overview_success_rate_counts_a_failing_retrying_delivery(viewer, tenant, endpoint):
    make_delivery(tenant, endpoint)
    retrying = make_delivery(tenant, endpoint, status=DeliveryStatus.PENDING, error="HTTP 503 from the receiver")
    Delivery.objects.filter(pk=retrying.pk).update(attempt_count=2, last_status_code=503, next_attempt_at=timezone.now() + timedelta(minutes=5))
    make_delivery(tenant, endpoint, status=DeliveryStatus.PENDING)  # queued, never tried: neither success nor failure
    html = viewer.get(BASE).content.decode()
    assert "50.0%" in html and "1 failing and retrying" in html
    # "Failed deliveries" opens the list it counts: the retrying delivery is in it, the queued one is not.
    link = re.search(r'href="(/t/acme/deliveries/\?endpoint=[^"]+&amp;status=failing)"', html).group(1).replace("&amp;", "&")
    listed = viewer.get(link).content.decode()
    assert f"#{retrying.pk}<" in listed and len(re.findall(r'href="/t/acme/deliveries/\d+/"', listed)) == 1
    assert re.search(r">retrying</span><span [^>]+>2 attempts failed, next at \d\d:\d\d:\d\d UTC<", listed)


def test_every_overview_figure_opens_the_list_it_counts(viewer, tenant, endpoint):
    instant = timezone.now().replace(second=30, microsecond=0) - timedelta(minutes=2)  # both in one chart bar
    ok = make_delivery(tenant, endpoint, at=instant)
    failed = make_delivery(tenant, endpoint, status=DeliveryStatus.FAILED, at=instant)
    make_delivery(tenant, endpoint, minutes_ago=90)
    html = viewer.get(BASE).content.decode()
    figures = dict(re.findall(r'data-figure="([\w-]+)" href="([^"]+)"', html))
    assert set(figures) == {"events", "success-rate", "dead-letters"}
    events = viewer.get(figures["events"].replace("&amp;", "&")).content.decode()
    assert events.count("<code>product.created</code>") == 2  # the two events of the hour
    failing = viewer.get(figures["success-rate"].replace("&amp;", "&")).content.decode()
    assert f"#{failed.pk}<" in failing and f"#{ok.pk}<" not in failing
    deliveries = re.search(r'data-figure="deliveries"><a class="kpi-label" href="([^"]+)"', html).group(1)
    assert len(re.findall(r'href="/t/acme/deliveries/\d+/"', viewer.get(deliveries).content.decode())) == 2
    minute = re.search(r'<a href="(/t/acme/deliveries/\?since=[^"]+)"><rect', html).group(1).replace("&amp;", "&")
    assert len(re.findall(r'href="/t/acme/deliveries/\d+/"', viewer.get(minute).content.decode())) == 2  # a bar opens its minute


# --- catalog and subscriptions ---------------------------------------------------------------


def test_catalog_is_grouped_searchable_and_subscribes_one_type(editor, tenant):
    page = editor.get(BASE + "catalog/?source=emporix").content.decode()
    assert "product.created" in page and "Product" in page
    found = editor.get(BASE + "catalog/?q=product created").content.decode()
    assert "product.created" in found and "customer.created" not in found
    response = editor.post(BASE + "catalog/", {"toggle": "SUBSCRIBE:product.created", "version:product.created": "", "next": BASE + "catalog/?q=product"})
    assert response.status_code == 302 and response.url == BASE + "catalog/?q=product"
    assert EventSubscription.objects.get(tenant=tenant, event_type__key="product.created").state == "SUBSCRIBED"


def test_bulk_subscribe_and_unsubscribe_carry_each_version(editor, tenant):
    keys = ["product.created", "product.updated", "product.deleted"]
    editor.post(BASE + "catalog/", {"bulk_action": "SUBSCRIBE", "selected": keys})
    subs = EventSubscription.objects.filter(tenant=tenant, event_type__key__in=keys)
    assert {s.state for s in subs} == {"SUBSCRIBED"} and subs.count() == 3
    data = {"bulk_action": "UNSUBSCRIBE", "selected": keys[:2], **{f"version:{s.event_type.key}": s.version for s in subs}}
    assert editor.post(BASE + "catalog/", data).status_code == 302
    states = dict(EventSubscription.objects.filter(tenant=tenant).values_list("event_type__key", "state"))
    assert states == {"product.created": "UNSUBSCRIBED", "product.updated": "UNSUBSCRIBED", "product.deleted": "SUBSCRIBED"}


def test_a_stale_catalog_form_shows_the_conflict_and_the_current_state_instead_of_overwriting(editor, tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    apply_subscription_change(tenant, SubscriptionChange("product.created", "UNSUBSCRIBE", version=1))  # someone else: now v2
    response = editor.post(BASE + "catalog/", {"toggle": "SUBSCRIBE:product.created", "version:product.created": "1"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "someone changed" in html and "version 2" in html
    sub = EventSubscription.objects.get(tenant=tenant, event_type__key="product.created")
    assert (sub.state, sub.version) == ("UNSUBSCRIBED", 2)


def test_excluded_fields_are_picked_from_the_event_schema(editor, tenant):
    response = editor.post(BASE + "catalog/product.created/", {"action": "SUBSCRIBE", "excluded": ["description", "name"], "version": ""})
    assert response.status_code == 302
    sub = EventSubscription.objects.get(tenant=tenant, event_type__key="product.created")
    assert sub.state == "SUBSCRIBED" and sorted(sub.excluded_fields) == ["description", "name"]
    editor.post(BASE + "catalog/product.created/", {"action": "", "excluded": ["name"], "version": sub.version})
    sub.refresh_from_db()
    assert sub.excluded_fields == ["name"] and sub.version == 2
    stale = editor.post(BASE + "catalog/product.created/", {"action": "", "excluded": [], "version": 1})
    assert stale.status_code == 409 and b"someone changed" in stale.content
    assert EventSubscription.objects.get(pk=sub.pk).excluded_fields == ["name"]
    bogus = editor.post(BASE + "catalog/product.created/", {"excluded": ["not-a-field"], "version": 2})
    assert bogus.status_code == 200 and EventSubscription.objects.get(pk=sub.pk).version == 2


# --- endpoints -------------------------------------------------------------------------------

VALID = {"url": "https://hooks.example.com/new", "method": "POST", "events": ["product.created"], "patterns": "order.*",
         "event_filter": '{"data.id": {"$eq": "p1"}}', "custom_payload": '{"productId": "/data/id"}', "description": "<b>ours</b>",
         "timeout_seconds": 10, "enabled": "on", "header_name": ["X-Team", ""], "header_value": ["catalog", ""]}


def test_an_owner_creates_an_endpoint_and_sees_its_secret_once(owner, tenant):
    response = owner.post(BASE + "endpoints/new/", VALID)
    endpoint = Endpoint.objects.get(tenant=tenant)
    assert response.status_code == 302 and response.url == f"{BASE}endpoints/{endpoint.pk}/"  # post/redirect/get
    secret = endpoint.secrets.get().secret
    assert secret not in response.content.decode()
    shown = owner.get(response.url)
    assert secret in shown.content.decode() and "no-store" in shown["Cache-Control"]
    assert endpoint.events == ["product.created", "order.*"] and endpoint.headers == {"X-Team": "catalog"}
    assert endpoint.event_filter == {"data.id": {"$eq": "p1"}} and endpoint.custom_payload == {"productId": "/data/id"}
    assert endpoint.timeout_seconds == 10 and endpoint.enabled
    reloaded = owner.get(response.url).content.decode()  # the reload: the secret is gone, and nothing was created again
    assert secret not in reloaded and "&lt;b&gt;ours&lt;/b&gt;" in reloaded and "<b>ours</b>" not in reloaded
    assert Endpoint.objects.count() == 1
    rotated = owner.post(f"{BASE}endpoints/{endpoint.pk}/rotate-secret/")
    assert rotated.status_code == 302 and rotated.url == f"{BASE}endpoints/{endpoint.pk}/"
    new_secret = endpoint.secrets.order_by("-created_at").first().secret
    page = owner.get(rotated.url).content.decode()
    assert new_secret != secret and new_secret in page and secret not in page
    assert new_secret not in owner.get(f"{BASE}endpoints/{endpoint.pk}/").content.decode()
    assert endpoint.secrets.count() == 2


def test_the_secret_once_is_shown_only_on_its_own_endpoint(owner, tenant, endpoint):
    created = owner.post(BASE + "endpoints/new/", VALID)
    new = Endpoint.objects.exclude(pk=endpoint.pk).get()
    assert new.secrets.get().secret not in owner.get(f"{BASE}endpoints/{endpoint.pk}/").content.decode()
    assert new.secrets.get().secret in owner.get(created.url).content.decode()


def test_an_editor_creates_but_only_owners_see_and_rotate_secrets(editor, tenant):
    response = editor.post(BASE + "endpoints/new/", VALID)
    endpoint = Endpoint.objects.get(tenant=tenant)
    assert response.status_code == 302 and endpoint.secrets.get().secret not in editor.get(response.url).content.decode()
    assert editor.post(f"{BASE}endpoints/{endpoint.pk}/rotate-secret/").status_code == 403
    assert endpoint.secrets.count() == 1


def test_an_invalid_filter_shows_the_error_at_its_path_and_creates_nothing(editor, tenant):
    bad = {**VALID, "event_filter": '{"$or": [{"data.id": {"$eq": "x"}}, {"data.price": {"$gt": "cheap", "$nope": 1}}]}'}
    response = editor.post(BASE + "endpoints/new/", bad)
    assert response.status_code == 400
    errors = re.findall(r'data-error-for="event_filter">([^<]*)<', response.content.decode())
    assert errors and errors[0].startswith("At $or[1].data.price")
    assert not Endpoint.objects.exists()
    syntax = editor.post(BASE + "endpoints/new/", {**VALID, "event_filter": '{"data.id": ', "custom_payload": '{"a": "no-pointer"}'})
    html = syntax.content.decode()
    assert "Not valid JSON" in html and 'data-error-for="event_filter"' in html
    payload = editor.post(BASE + "endpoints/new/", {**VALID, "custom_payload": '{"a": {"b": 5}}'}).content.decode()
    assert re.search(r'data-error-for="custom_payload">At a\.b', payload)
    private = editor.post(BASE + "endpoints/new/", {**VALID, "url": "http://127.0.0.1/x", "patterns": "nothing.matches.this"}).content.decode()
    assert 'data-error-for="url"' in private and "matches no event type" in private
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("allow_private", [False, True])
def test_the_form_refuses_loopback_spelled_in_unicode_at_the_url_field(editor, settings, allow_private):
    # The sender's URL parser reads ①②⑦.0.0.1 as 127.0.0.1: the form judges that, not the text.
    settings.EVENTHUB = {**getattr(settings, "EVENTHUB", {}), "ALLOW_PRIVATE_TARGETS": allow_private}
    response = editor.post(BASE + "endpoints/new/", {**VALID, "url": "http://①②⑦.0.0.1:8000/x"})
    html = response.content.decode()
    assert response.status_code == 400 and re.search(r'data-error-for="url">[^<]*read as the address 127\.0\.0\.1', html)
    assert not Endpoint.objects.exists()


def test_editing_with_a_stale_version_shows_the_conflict_and_the_current_state(editor, endpoint):
    update_endpoint(endpoint, {"description": "changed by someone else"}, 1)
    form = {**VALID, "url": "https://mine.example.com/", "version": 1}
    response = editor.post(f"{BASE}endpoints/{endpoint.pk}/edit/", form)
    assert response.status_code == 409
    html = response.content.decode()
    assert "someone changed this endpoint" in html and "changed by someone else" in html and 'value="https://hooks.example.com/a"' in html
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/a" and endpoint.version == 2
    ok = editor.post(f"{BASE}endpoints/{endpoint.pk}/edit/", {**form, "version": 2})
    assert ok.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://mine.example.com/" and endpoint.version == 3


@pytest.mark.parametrize("depth", [150, 5000])
def test_json_nested_too_deeply_is_a_form_error_not_a_server_error(editor, tenant, depth):
    deep = "[" * depth + "]" * depth
    data = {**VALID, "preview_type": "product.created", "preview_sample": deep, "custom_payload": ""}
    answer = editor.post(BASE + "endpoints/preview/", data)
    assert answer.status_code == 200 and answer.json()["ok"] is False and "nested more than 100 levels" in str(answer.json())
    page = editor.post(BASE + "endpoints/new/", {**VALID, "event_filter": '{"a": ' * depth + "1" + "}" * depth})
    assert page.status_code == 400 and "nested more than 100 levels" in page.content.decode()
    assert not Endpoint.objects.exists()


def test_preview_shows_the_body_the_endpoint_would_receive(editor, tenant, endpoint):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE", fields_to_unsubscribe=("name",)))
    data = {**VALID, "preview_type": "product.created", "preview_sample": '{"id": "p1", "name": {"en": "x"}}'}
    answer = editor.post(BASE + "endpoints/preview/", data).json()
    assert answer["ok"] and answer["matches"] and answer["body"] == '{"productId":"p1"}'
    assert answer["headers"]["X-Team"] == "catalog"
    miss = editor.post(BASE + "endpoints/preview/", {**data, "preview_sample": '{"id": "p2"}'}).json()
    assert not miss["matches"] and "eventFilter does not match" in " ".join(miss["reasons"])
    invalid = editor.post(BASE + "endpoints/preview/", {**data, "event_filter": '{"data.id": {"$bad": 1}}'})
    assert invalid.status_code == 200 and invalid.json()["ok"] is False and "event_filter" in invalid.json()["errors"]
    # Without JavaScript, the form's Preview button renders the same inside the page (and saves nothing).
    page = editor.post(BASE + "endpoints/new/", {**data, "preview": "1"})
    assert page.status_code == 200 and "would be delivered" in page.content.decode() and Endpoint.objects.count() == 1
    with_endpoint = editor.post(BASE + "endpoints/preview/", {**data, "endpoint_id": str(endpoint.pk)}).json()
    assert "webhook-signature" in with_endpoint["headers"]


def test_test_event_toggle_replay_and_delete(editor, tenant, endpoint):
    response = editor.post(f"{BASE}endpoints/{endpoint.pk}/test/", {"event_type": "product.created"})
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert response.url == f"{BASE}deliveries/{delivery.pk}/" and delivery.event.origin == "test"
    assert editor.post(f"{BASE}endpoints/{endpoint.pk}/test/", {"event_type": "no.such"}).status_code == 302
    assert Delivery.objects.count() == 1

    editor.post(f"{BASE}endpoints/{endpoint.pk}/toggle/", {"enabled": "0", "version": 1})
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.version == 2
    editor.post(f"{BASE}endpoints/{endpoint.pk}/toggle/", {"enabled": "1", "version": 1})  # stale: nothing changes
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.version == 2

    make_delivery(tenant, endpoint, minutes_ago=30)
    editor.post(f"{BASE}endpoints/{endpoint.pk}/replay/", {"since": (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")})
    assert Delivery.objects.filter(endpoint=endpoint).count() == 3  # test event not replayed

    confirm = editor.get(f"{BASE}endpoints/{endpoint.pk}/delete/")
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    assert editor.post(f"{BASE}endpoints/{endpoint.pk}/delete/").url == BASE + "endpoints/"
    assert not Endpoint.objects.exists() and Delivery.objects.count() == 3


def test_endpoint_list_shows_health_and_an_empty_state(viewer, tenant, endpoint):
    assert b"New endpoint" not in viewer.get(BASE + "endpoints/").content  # viewers get no create button
    make_delivery(tenant, endpoint)
    make_delivery(tenant, endpoint, status=DeliveryStatus.FAILED, error="connection refused")
    html = viewer.get(BASE + "endpoints/").content.decode()
    assert "50.0%" in html and "connection refused" in html
    Endpoint.objects.all().delete()
    assert b"No endpoints yet" in viewer.get(BASE + "endpoints/").content


# --- deliveries ------------------------------------------------------------------------------


def test_delivery_log_filters_and_paginates(viewer, tenant, endpoint):
    for i in range(55):
        make_delivery(tenant, endpoint, event_type="product.created" if i % 2 else "order.created")
    failed = make_delivery(tenant, endpoint, status=DeliveryStatus.FAILED, event_type="order.created", minutes_ago=200)
    first = viewer.get(BASE + "deliveries/").content.decode()
    assert "Page 1 of 2" in first and "56 in all" in first
    assert "Page 2 of 2" in viewer.get(BASE + "deliveries/?page=2").content.decode()
    only_failed = viewer.get(BASE + "deliveries/?status=failed").content.decode()
    assert f"#{failed.pk}<" in only_failed and len(re.findall(r'href="/t/acme/deliveries/\d+/"', only_failed)) == 1
    typed = viewer.get(BASE + "deliveries/?type=order.*&endpoint=" + str(endpoint.pk)).content.decode()
    assert "29 in all" in typed
    since = (timezone.now() - timedelta(minutes=100)).strftime("%Y-%m-%dT%H:%M")
    assert f"#{failed.pk}<" not in viewer.get(BASE + "deliveries/?since=" + since).content.decode()
    assert b"No delivery matches" in viewer.get(BASE + "deliveries/?type=nothing").content


def test_deliveries_are_found_by_event_id_webhook_id_or_number(viewer, tenant, endpoint):
    one, other = make_delivery(tenant, endpoint), make_delivery(tenant, endpoint)
    for query in [one.event.event_id, one.webhook_id, f"#{one.pk}", f"  {one.webhook_id} "]:
        html = viewer.get(BASE + "deliveries/", {"q": query}).content.decode()
        assert f"#{one.pk}<" in html and f"#{other.pk}<" not in html, query
    assert b"No delivery matches" in viewer.get(BASE + "deliveries/", {"q": "9" * 30}).content


def test_delivery_page_shows_request_attempts_and_escapes_the_response(viewer, editor, tenant, endpoint):
    delivery = make_delivery(tenant, endpoint, status=DeliveryStatus.FAILED)
    Attempt.objects.create(delivery=delivery, started_at=timezone.now(), duration_ms=12.5, request_headers={"webhook-id": "msg_1"},
                           status_code=500, response_headers={"X-Reply": "<i>x</i>"}, response_body="<script>alert(1)</script>")
    html = viewer.get(f"{BASE}deliveries/{delivery.pk}/").content.decode()
    assert "webhook-id: msg_1" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "X-Reply: &lt;i&gt;x&lt;/i&gt;" in html and "13 ms" in html
    assert editor.post(f"{BASE}deliveries/{delivery.pk}/retry/").status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING


# --- sources, dead letters, members ----------------------------------------------------------


def test_sources_and_dead_letters_list_what_the_broker_side_recorded(viewer, tenant, other_tenant):
    assert b"No broker sources" in viewer.get(BASE + "sources/").content
    assert b"No dead letters" in viewer.get(BASE + "dead-letters/").content
    now = timezone.now()
    Source.objects.create(tenant=tenant, name="shop", exchange="shop.events", binding_keys=["product.#"], created_at=now, modified_at=now)
    DeadLetter.objects.create(tenant=tenant, exchange="shop.events", routing_key="x.y", body="<img src=x onerror=alert(1)>", reason="unknown type 'x.y'", received_at=now)
    DeadLetter.objects.create(tenant=other_tenant, reason="theirs", received_at=now)
    assert b"shop.events" in viewer.get(BASE + "sources/").content
    html = viewer.get(BASE + "dead-letters/").content.decode()
    assert "unknown type &#x27;x.y&#x27;" in html and "&lt;img src=x" in html and "theirs" not in html
    assert "theirs" not in viewer.get(BASE + "dead-letters/?q=unknown").content.decode()


def test_owners_manage_members_but_cannot_remove_the_last_owner(owner, tenant):
    ensure_user("bob", "pw-123456!")
    assert owner.get(BASE + "members/").status_code == 200
    assert owner.post(BASE + "members/", {"who": "nobody", "role": "viewer"}).status_code == 400
    assert owner.post(BASE + "members/", {"who": "bob", "role": "editor"}).status_code == 302
    bob = Membership.objects.get(tenant=tenant, user__username="bob")
    assert bob.role == Role.EDITOR
    owner.post(f"{BASE}members/{bob.pk}/", {"role": "viewer"})
    bob.refresh_from_db()
    assert bob.role == Role.VIEWER
    confirm = owner.get(f"{BASE}members/{bob.pk}/")
    assert confirm.status_code == 200 and b"Remove bob?" in confirm.content and Membership.objects.filter(pk=bob.pk).exists()
    me = Membership.objects.get(user=owner.user)
    owner.post(f"{BASE}members/{me.pk}/", {"remove": "1"})
    assert Membership.objects.filter(pk=me.pk, role=Role.OWNER).exists()
    owner.post(f"{BASE}members/{bob.pk}/", {"remove": "1"})
    assert not Membership.objects.filter(pk=bob.pk).exists()


def test_forms_need_their_csrf_token(tenant, owner):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner.user)
    assert strict.post(BASE + "endpoints/new/", VALID).status_code == 403
    assert strict.post(BASE + "catalog/", {"toggle": "SUBSCRIBE:product.created"}).status_code == 403
    assert not Endpoint.objects.exists() and not EventSubscription.objects.exists()
    form = strict.get(BASE + "endpoints/new/").content.decode()
    assert form.count("csrfmiddlewaretoken") >= 2  # the endpoint form and the logout form


def test_the_secret_never_reaches_the_logs(owner, tenant, caplog):
    caplog.set_level("DEBUG")
    owner.post(BASE + "endpoints/new/", VALID)
    endpoint = Endpoint.objects.get(tenant=tenant)
    owner.post(f"{BASE}endpoints/{endpoint.pk}/rotate-secret/")
    secrets = list(endpoint.secrets.values_list("secret", flat=True))
    assert len(secrets) == 2
    assert not any(secret in record.getMessage() for record in caplog.records for secret in secrets)


def test_the_catalog_redirects_back_only_to_this_site(editor):
    response = editor.post(BASE + "catalog/", {"toggle": "SUBSCRIBE:product.created", "next": "https://evil.example.com/"})
    assert response.url == BASE + "catalog/"


def test_an_empty_overview_says_where_events_come_from(viewer):
    html = viewer.get(BASE).content.decode()
    assert "No events in the last hour" in html and 'href="/t/acme/sources/"' in html and "No endpoint is failing" in html


def test_the_endpoint_form_chooses_the_payload_format_and_the_preview_follows_it(editor, tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    data = {**VALID, "custom_payload": "", "payload_format": "data", "preview_type": "product.created", "preview_sample": '{"id": "p1"}'}
    answer = editor.post(BASE + "endpoints/preview/", data).json()
    assert answer["ok"] and answer["body"] == '{"id":"p1"}'
    cloud = editor.post(BASE + "endpoints/preview/", {**data, "payload_format": "cloudevents"}).json()
    assert json.loads(cloud["body"])["specversion"] == "1.0" and cloud["headers"]["Content-Type"] == "application/cloudevents+json"
    assert editor.post(BASE + "endpoints/new/", {**VALID, "payload_format": "cloudevents"}).status_code == 302
    endpoint = Endpoint.objects.get(tenant=tenant)
    assert endpoint.payload_format == "cloudevents"
    assert "CloudEvents 1.0" in editor.get(f"{BASE}endpoints/{endpoint.pk}/").content.decode()


def test_a_catalog_type_page_shows_its_routing_key_form_app_id_and_change_pair(viewer):
    entry = viewer.get(BASE + "catalog/entryUpdated/").content.decode()
    assert "{shortID}.{modelTitle}.{entryID}.entryUpdated" in entry and "data.oldEntryData" in entry
    assert "ec.tasks-api" in viewer.get(BASE + "catalog/cmd.startTask/").content.decode()


def test_a_long_catalog_page_collapses_its_groups_but_opens_subscribed_and_searched_ones(editor, tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    html = editor.get(BASE + "catalog/?source=emporix").content.decode()
    groups = re.findall(r'<details class="card catalog-group" data-filter-group( open)?>\s*<summary><h2>([^<]+)</h2>', html)
    assert len(groups) > 3 and [name for opened, name in groups if opened] == ["Product"]
    searched = editor.get(BASE + "catalog/?q=order").content.decode()
    assert "data-filter-group>" not in searched  # every group with a hit is open


def test_the_check_endpoint_judges_a_json_field_with_the_submit_validators_and_gives_examples(editor):
    check = lambda **data: editor.post(BASE + "endpoints/check/", data).json()
    assert check(field="event_filter", text='{"data.price": {"$nope": 1}}')["problems"][0]["path"] == "data.price"
    assert check(field="event_filter", text='{"data.price": {"$gt": 1}}')["problems"] == []
    assert check(field="event_filter", text="")["problems"] == []
    assert "Not valid JSON" in check(field="custom_payload", text="{")["problems"][0]["message"]
    examples = check(event_type="product.created")["examples"]
    assert examples["type"] == "product.created" and examples["custom_payload"]["eventType"] == "/type"
    assert editor.post(BASE + "endpoints/new/", {**VALID, "event_filter": json.dumps(examples["event_filter"]),
                                               "custom_payload": json.dumps(examples["custom_payload"])}).status_code == 302  # examples are valid


def test_a_delivery_page_refreshes_itself_only_while_an_attempt_is_imminent(viewer, tenant, endpoint):
    from dashboard.delivery_views import refresh_seconds

    delivery = make_delivery(tenant, endpoint, status=DeliveryStatus.PENDING)
    assert b'http-equiv="refresh"' in viewer.get(f"{BASE}deliveries/{delivery.pk}/").content  # a new or test delivery
    now = timezone.now()
    delivery.attempt_count, delivery.next_attempt_at = 1, now + timedelta(seconds=5)
    assert refresh_seconds(delivery, now) == 2  # its retry is due in seconds
    delivery.next_attempt_at = now + timedelta(minutes=30)
    assert refresh_seconds(delivery, now) is None  # half an hour away: no reloading meanwhile
    delivery.status = DeliveryStatus.SUCCEEDED
    assert refresh_seconds(delivery, now) is None


def test_owners_invite_by_email_and_the_link_sets_a_password_once(owner, tenant, client, mailoutbox, django_capture_on_commit_callbacks):
    ensure_user("carol", "pw-123456!")[0].__class__.objects.filter(username="carol").update(email="Carol@Example.com")
    assert owner.post(BASE + "members/", {"who": "carol@example.com", "role": "viewer"}).status_code == 302  # an existing user, by email
    assert Membership.objects.filter(tenant=tenant, user__username="carol").exists() and mailoutbox == []
    assert owner.post(BASE + "members/", {"who": "not an address", "role": "viewer"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.post(BASE + "members/", {"who": "dana@example.com", "role": "editor"}).status_code == 302
    member = Membership.objects.get(tenant=tenant, user__email="dana@example.com")
    assert member.role == Role.EDITOR and not member.user.has_usable_password()
    [mail] = mailoutbox
    assert mail.to == ["dana@example.com"] and "acme" in mail.subject
    link = re.search(r"http://testserver(/invitation/\S+/)", mail.body).group(1)
    form = client.get(link, follow=True)
    assert b"Choose a password" in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "dana-pass-2026!", "new_password2": "dana-pass-2026!"})
    assert done.status_code == 302 and done.url == "/login/"
    assert client.post("/login/", {"username": "dana@example.com", "password": "dana-pass-2026!"}).status_code == 302
    client.post("/logout/")
    again = client.get(link, follow=True)
    assert b"used already or has expired" in again.content  # works once


def test_an_invitation_link_expires(owner, tenant, client, mailoutbox, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(BASE + "members/", {"who": "erin@example.com", "role": "viewer"})
    link = re.search(r"http://testserver(/invitation/\S+/)", mailoutbox[0].body).group(1)
    settings.PASSWORD_RESET_TIMEOUT = -1  # any age is too old
    assert b"used already or has expired" in client.get(link, follow=True).content


def test_the_catalog_page_shows_the_hubs_operational_types_under_their_source(editor, tenant):
    page = editor.get(BASE + "catalog/?source=eventhub").content.decode()
    for key in ("eventhub.endpoint.disabled", "eventhub.endpoint.failing", "eventhub.endpoint.recovered",
                "eventhub.delivery.failed", "eventhub.deadletter.created"):
        assert key in page
    assert "product.created" not in page and "eventhub (operational)" in page

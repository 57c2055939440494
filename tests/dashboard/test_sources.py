"""The dashboard's broker pages: sources created, edited and deleted through the API's rules; dead letters read and re-driven."""

import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from subscriptions.core.messages import Message
from subscriptions.models import DeadLetter, Delivery, Event, Source
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.broker.sources import create_source, dead_letter_row, store_dead_letters, update_source
from tenants.models import Role

pytestmark = pytest.mark.django_db

BASE = "/t/acme/"
FORM = {"name": "shop", "exchange": "shop.events", "exchange_type": "topic", "binding_keys": "product.#\n\n order.*.created \n",
        "type_from": "property_or_routing_key", "type_field": "", "catch_all_type": "", "description": "Shop events", "enabled": "on"}


def source_of(tenant, **values):
    return create_source(tenant, {"name": "shop", "exchange": "shop.events", "binding_keys": ["shop.#"], **values})


def dead(tenant, source=None, routing_key="shop.product.created", body=None, reason="no enabled source matches", **props):
    raw = body if isinstance(body, bytes) else json.dumps(body or {"id": "p-1"}).encode()
    message = Message("shop.events", routing_key, raw, {"messageId": "m-1", **props})
    [row] = store_dead_letters([dead_letter_row(message, reason, tenant.id, source.id if source else None)])
    return row


def errors_of(response):
    return dict(re.findall(r'data-error-for="(\w+)">([^<]*)<', response.content.decode()))


# --- sources ---------------------------------------------------------------------------------


def test_an_editor_creates_edits_and_deletes_a_source(editor, tenant):
    assert b'href="/t/acme/sources/new/"' in editor.get(BASE + "sources/").content
    assert editor.get(BASE + "sources/new/").status_code == 200
    created = editor.post(BASE + "sources/new/", FORM)
    assert created.url == BASE + "sources/"
    source = Source.objects.get(tenant=tenant)
    assert (source.name, source.exchange, source.binding_keys, source.enabled, source.version) == ("shop", "shop.events", ["product.#", "order.*.created"], True, 1)
    listing = editor.get(BASE + "sources/").content.decode()
    assert "Source &#x27;shop&#x27; created" in listing and f'href="/t/acme/sources/{source.pk}/edit/"' in listing

    form = editor.get(f"{BASE}sources/{source.pk}/edit/").content.decode()
    assert 'value="shop.events"' in form and "product.#\norder.*.created</textarea>" in form and 'name="version" value="1"' in form
    edit = {**FORM, "type_from": "body_field", "type_field": "meta.kind", "catch_all_type": "product.updated", "version": 1}
    del edit["enabled"]
    assert editor.post(f"{BASE}sources/{source.pk}/edit/", edit).url == BASE + "sources/"
    source.refresh_from_db()
    assert (source.type_from, source.type_field, source.catch_all_type, source.enabled, source.version) == ("body_field", "meta.kind", "product.updated", False, 2)

    confirm = editor.get(f"{BASE}sources/{source.pk}/delete/")
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content and Source.objects.exists()
    assert editor.post(f"{BASE}sources/{source.pk}/delete/").url == BASE + "sources/"
    assert not Source.objects.exists()
    assert b"Deleted the source" in editor.get(BASE + "sources/").content


@pytest.mark.parametrize("changes, field, text", [
    ({"exchange": "has space"}, "exchange", "An exchange name holds"),
    ({"exchange": "eventhub.dead"}, "exchange", ""),
    ({"binding_keys": "a..b"}, "binding_keys", ""),
    ({"binding_keys": " \n "}, "binding_keys", ""),
    ({"catch_all_type": "no.such.type"}, "catch_all_type", "is not an event type of the catalog"),
    ({"type_from": "body_field"}, "type_field", "Required when typeFrom is body_field"),
    ({"type_field": "kind"}, "type_field", "Only used when typeFrom is body_field"),
    ({"name": ""}, "name", ""),
])
def test_invalid_input_shows_the_services_message_at_its_field_and_saves_nothing(editor, changes, field, text):
    response = editor.post(BASE + "sources/new/", {**FORM, **changes})
    assert response.status_code == 400
    errors = errors_of(response)
    assert field in errors and text in errors[field], errors
    assert not Source.objects.exists()


def test_a_taken_name_is_shown_at_the_name(editor, tenant, other_tenant):
    source_of(other_tenant)  # names are per tenant
    assert editor.post(BASE + "sources/new/", FORM).status_code == 302
    again = editor.post(BASE + "sources/new/", FORM)
    assert again.status_code == 409 and "exists already" in errors_of(again)["name"]
    other = source_of(tenant, name="other")
    renamed = editor.post(f"{BASE}sources/{other.pk}/edit/", {**FORM, "version": 1})
    assert renamed.status_code == 409 and "exists already" in errors_of(renamed)["name"]
    other.refresh_from_db()
    assert other.name == "other" and other.version == 1 and Source.objects.filter(tenant=tenant).count() == 2


def test_editing_with_a_stale_version_shows_the_conflict_and_the_current_state(editor, tenant):
    source = source_of(tenant)
    update_source(source, {"description": "changed by someone else"}, 1)
    response = editor.post(f"{BASE}sources/{source.pk}/edit/", {**FORM, "exchange": "mine", "version": 1})
    assert response.status_code == 409
    html = response.content.decode()
    assert "someone changed this source" in html and "changed by someone else" in html and 'name="version" value="2"' in html
    source.refresh_from_db()
    assert source.exchange == "shop.events" and source.version == 2
    assert editor.post(f"{BASE}sources/{source.pk}/edit/", {**FORM, "exchange": "mine", "version": 2}).status_code == 302
    source.refresh_from_db()
    assert source.exchange == "mine" and source.version == 3


def test_a_viewer_sees_no_buttons_and_cannot_change_sources_or_redrive(viewer, tenant):
    source = source_of(tenant)
    letter = dead(tenant, source)
    assert b"sources/new/" not in viewer.get(BASE + "sources/").content
    assert b"/edit/" not in viewer.get(BASE + "sources/").content and b"/delete/" not in viewer.get(BASE + "sources/").content
    page = viewer.get(f"{BASE}dead-letters/{letter.pk}/")
    assert page.status_code == 200 and b"/redrive/" not in page.content
    for path in ["sources/new/", f"sources/{source.pk}/edit/", f"sources/{source.pk}/delete/", f"dead-letters/{letter.pk}/redrive/"]:
        assert viewer.get(BASE + path).status_code == 403, path
        assert viewer.post(BASE + path, {**FORM, "name": "taken-over", "version": 1}).status_code == 403, path
    source.refresh_from_db()
    letter.refresh_from_db()
    assert Source.objects.count() == 1 and source.name == "shop" and source.version == 1
    assert letter.redriven_at is None and not Event.objects.exists()


def test_another_tenants_source_and_dead_letter_are_404_by_url_guessing(client_as, tenant, other_tenant):
    theirs = source_of(other_tenant)
    their_letter = dead(other_tenant, theirs)
    mine = client_as(Role.OWNER)
    for path in [f"{BASE}sources/{theirs.pk}/edit/", f"{BASE}sources/{theirs.pk}/delete/", f"{BASE}dead-letters/{their_letter.pk}/",
                 f"{BASE}dead-letters/{their_letter.pk}/redrive/", f"/t/globex/sources/{theirs.pk}/edit/", f"/t/globex/dead-letters/{their_letter.pk}/",
                 f"{BASE}dead-letters/99999999999999999999999/"]:
        assert mine.get(path).status_code == 404, path
    for path in [f"{BASE}sources/{theirs.pk}/edit/", f"{BASE}sources/{theirs.pk}/delete/", f"{BASE}dead-letters/{their_letter.pk}/redrive/",
                 f"/t/globex/sources/{theirs.pk}/delete/", f"/t/globex/dead-letters/{their_letter.pk}/redrive/"]:
        assert mine.post(path, {**FORM, "version": 1}).status_code == 404, path
    theirs.refresh_from_db()
    their_letter.refresh_from_db()
    assert theirs.name == "shop" and theirs.version == 1 and their_letter.redriven_at is None
    assert "globex" not in mine.get(BASE + "dead-letters/").content.decode().replace("/t/acme/", "")


def test_source_forms_and_redrive_need_their_csrf_token(tenant, editor):
    source = source_of(tenant)
    letter = dead(tenant, source)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor.user)
    assert strict.post(BASE + "sources/new/", {**FORM, "name": "new"}).status_code == 403
    assert strict.post(f"{BASE}sources/{source.pk}/edit/", {**FORM, "exchange": "x", "version": 1}).status_code == 403
    assert strict.post(f"{BASE}sources/{source.pk}/delete/").status_code == 403
    assert strict.post(f"{BASE}dead-letters/{letter.pk}/redrive/").status_code == 403
    source.refresh_from_db()
    letter.refresh_from_db()
    assert Source.objects.count() == 1 and source.version == 1 and letter.redriven_at is None
    for path in ["sources/new/", f"sources/{source.pk}/edit/", f"sources/{source.pk}/delete/", f"dead-letters/{letter.pk}/redrive/"]:
        assert strict.get(BASE + path).content.decode().count("csrfmiddlewaretoken") >= 2, path  # the form and the logout form


# --- dead letters ----------------------------------------------------------------------------


def test_a_dead_letter_page_shows_everything_escaped_and_bounded(viewer, tenant):
    letter = dead(tenant, routing_key="<script>alert('rk')</script>", body={"html": "<script>alert(1)</script>"},
                  reason="unknown event type '<b>x</b>'", type="<i>t</i>")
    html = viewer.get(f"{BASE}dead-letters/{letter.pk}/").content.decode()
    assert "<script>alert" not in html and "<b>x</b>" not in html and "<i>t</i>" not in html
    assert "&lt;script&gt;alert(&#x27;rk&#x27;)&lt;/script&gt;" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "unknown event type &#x27;&lt;b&gt;x&lt;/b&gt;&#x27;" in html and "&lt;i&gt;t&lt;/i&gt;" in html and "m-1" in html
    assert "not yet" in html
    listing = viewer.get(BASE + "dead-letters/").content.decode()
    assert "<script>alert" not in listing and "&lt;script&gt;alert(1)" in listing and f'href="/t/acme/dead-letters/{letter.pk}/"' in listing

    big = DeadLetter.objects.create(tenant=tenant, body="A" * 70_000 + "TAIL", body_size=70_004, reason="too big", received_at=timezone.now())
    html = viewer.get(f"{BASE}dead-letters/{big.pk}/").content.decode()
    assert "A" * 65_536 in html and "TAIL" not in html and "The first 64.0" in html
    listing = viewer.get(BASE + "dead-letters/").content.decode()
    assert "A" * 500 in listing and "A" * 501 not in listing


def test_redrive_records_the_event_once_and_says_so(editor, tenant, endpoint):
    letter = dead(tenant, type="product.created")
    confirm = editor.get(f"{BASE}dead-letters/{letter.pk}/redrive/")
    assert confirm.status_code == 200 and b"Re-drive dead letter" in confirm.content and b'method="post"' in confirm.content

    refused = editor.post(f"{BASE}dead-letters/{letter.pk}/redrive/", follow=True).content.decode()
    assert "Not re-driven: The message still cannot become an event: no enabled source matches" in refused
    letter.refresh_from_db()
    assert letter.redriven_at is None and not Event.objects.exists()

    source = source_of(tenant)
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    response = editor.post(f"{BASE}dead-letters/{letter.pk}/redrive/")
    assert response.url == f"{BASE}dead-letters/{letter.pk}/"
    page = editor.get(response.url).content.decode()
    assert "Re-driven: event m-1 recorded with 1 delivery." in page
    event = Event.objects.get()
    assert (event.event_id, event.type, event.source_id, event.data) == ("m-1", "product.created", source.pk, {"id": "p-1"})
    assert Delivery.objects.count() == 1
    letter.refresh_from_db()
    first = letter.redriven_at
    assert first is not None and first.strftime("%Y-%m-%d %H:%M:%S") in page

    again = editor.post(f"{BASE}dead-letters/{letter.pk}/redrive/", follow=True).content.decode()
    assert "Already re-driven: event m-1 was recorded before" in again
    letter.refresh_from_db()
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1 and letter.redriven_at == first
    assert "It was re-driven on" in editor.get(f"{BASE}dead-letters/{letter.pk}/redrive/").content.decode()


def test_a_body_that_is_not_utf8_is_refused_with_the_reason(editor, tenant):
    source_of(tenant)
    letter = dead(tenant, body=b"\xff{}", reason="body is not UTF-8 (byte 0)", type="product.created")
    html = editor.post(f"{BASE}dead-letters/{letter.pk}/redrive/", follow=True).content.decode()
    assert "Not re-driven: The original body is not UTF-8; only the producer can fix it." in html
    letter.refresh_from_db()
    assert letter.redriven_at is None and not Event.objects.exists()


def test_the_list_filters_re_driven_letters_from_the_others(viewer, tenant):
    waiting = dead(tenant, routing_key="shop.waiting")
    done = dead(tenant, routing_key="shop.done")
    DeadLetter.objects.filter(pk=done.pk).update(redriven_at=timezone.now())
    everything = viewer.get(BASE + "dead-letters/").content.decode()
    assert "shop.waiting" in everything and "shop.done" in everything
    not_yet = viewer.get(BASE + "dead-letters/?state=dead").content.decode()
    assert "shop.waiting" in not_yet and "shop.done" not in not_yet
    redriven = viewer.get(BASE + "dead-letters/?state=redriven").content.decode()
    assert "shop.done" in redriven and "shop.waiting" not in redriven and '<option value="redriven" selected>' in redriven
    assert "shop.waiting" in viewer.get(BASE + "dead-letters/?state=dead&q=waiting").content.decode()
    assert b"that was re-driven" in viewer.get(BASE + "dead-letters/?state=redriven&q=waiting").content
    assert viewer.get(BASE + "dead-letters/?state=bogus").status_code == 200
    assert 'href="/t/acme/dead-letters/?state=dead"' in viewer.get(BASE).content.decode()  # the overview counts those
    assert waiting.pk != done.pk

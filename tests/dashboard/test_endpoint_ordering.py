"""The dashboard's door to an endpoint's `ordering`: set on the form, shown on the page, checked as you type."""

import pytest

from subscriptions.models import Endpoint

pytestmark = pytest.mark.django_db
BASE = "/t/acme/"
FORM = {"url": "https://hooks.example.com/new", "method": "POST", "events": ["product.created"], "patterns": "",
        "event_filter": "", "custom_payload": "", "description": "", "timeout_seconds": 10, "enabled": "on",
        "header_name": [""], "header_value": [""]}


def test_an_editor_sets_ordering_on_the_form_and_the_page_shows_it(editor, tenant):
    created = editor.post(BASE + "endpoints/new/", {**FORM, "ordering": '{"key": "/data/entryID"}'})
    endpoint = Endpoint.objects.get()
    assert created.status_code == 302 and endpoint.ordering == {"key": "/data/entryID"}
    page = editor.get(f"{BASE}endpoints/{endpoint.pk}/").content.decode()
    assert "by <code>/data/entryID</code>: one at a time per value, in event order" in page
    form = editor.get(f"{BASE}endpoints/{endpoint.pk}/edit/").context["form"]
    assert '"key": "/data/entryID"' in form.initial["ordering"]
    cleared = editor.post(f"{BASE}endpoints/{endpoint.pk}/edit/", {**FORM, "ordering": "", "version": endpoint.version})
    endpoint.refresh_from_db()
    assert cleared.status_code == 302 and endpoint.ordering is None and endpoint.version == 2
    assert "none: deliveries go in parallel" in editor.get(f"{BASE}endpoints/{endpoint.pk}/").content.decode()


def test_the_form_checks_ordering_as_you_type_with_the_rules_words(editor, tenant):
    answer = editor.post(BASE + "endpoints/check/", {"field": "ordering", "text": '{"key": "entryID"}'}).json()
    assert answer["problems"] == [{"path": "key", "message": "Invalid JSON pointer 'entryID': it must start with / (e.g. \"/data/entryID\")."}]
    assert editor.post(BASE + "endpoints/check/", {"field": "ordering", "text": '{"key": "/data/id"}'}).json()["problems"] == []

"""Search: deliveries by event id and webhook-id, events by text in their body (API and dashboard), bounded, within the
tenant: among its newest events, or all of them where PostgreSQL has the opt-in text index (manage.py event_text_index)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from subscriptions import selectors, text_index
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, Event
from tenants.models import Role
from tenants.services import add_member, ensure_user

pytestmark = pytest.mark.django_db

BASE = "/webhook/acme"
BODIES = {
    "e-order": {"order": {"number": "ORD-2024-0042", "customer": "Anna Müller"}, "total": 129.95},
    "e-mail": {"email": "ANNA@Example.com", "tags": ["vip", "newsletter"]},
    "e-percent": {"note": "100% cotton_blend"},
    "e-key": {"shippingAddress": {"city": "Köln"}},
}


def record(tenant, event_id, data):
    now = timezone.now()
    return Event.objects.create(tenant=tenant, event_id=event_id, type="product.created", timestamp=now, data=data, received_at=now)


@pytest.fixture
def events(tenant, other_tenant):
    mine = {event_id: record(tenant, event_id, data) for event_id, data in BODIES.items()}
    record(other_tenant, "theirs", {"order": {"number": "ORD-2024-0042"}, "email": "anna@example.com"})
    return mine


def found(api, text):
    response = api.get(f"{BASE}/events", {"q": text})
    assert response.status_code == 200, response.content
    return sorted(item["id"] for item in response.json())


@pytest.mark.parametrize("text, expected", [
    ("ORD-2024-0042", ["e-order"]),
    ("ord-2024", ["e-order"]),  # any case, any part
    ("anna@example", ["e-mail"]),
    ("newsletter", ["e-mail"]),  # a value in a list
    ("129.95", ["e-order"]),  # a number, as written
    ("shippingaddress", ["e-key"]),  # a key
    ("100%", ["e-percent"]),  # % and _ are themselves, not wildcards
    ("1%n", []),
    ("100_", []),
    ("on_b", ["e-percent"]),
    ("Müller", ["e-order"]),
    ("no such text", []),
])
def test_events_are_found_by_text_in_their_body_and_only_the_tenants(api, events, text, expected):
    assert found(api, text) == expected


@pytest.mark.parametrize("text", ["ab", "  a ", "x" * 201])
def test_search_text_is_bounded(api, events, text):
    response = api.get(f"{BASE}/events", {"q": text})
    assert response.status_code == 400 and response.json()["problems"][0]["field"] == "q"


def test_the_page_size_bounds_a_search_as_any_list(api, tenant):
    for i in range(3):
        record(tenant, f"n-{i}", {"text": "needle"})
    assert len(api.get(f"{BASE}/events", {"q": "needle", "pageSize": 2}).json()) == 2
    assert api.get(f"{BASE}/events", {"q": "needle", "pageSize": 201}).status_code == 400


def test_without_the_text_index_a_search_reads_only_the_newest_events(api, tenant, monkeypatch):
    old = record(tenant, "old", {"text": "needle"})
    Event.objects.filter(pk=old.pk).update(received_at=timezone.now() - timezone.timedelta(days=1))
    for i in range(3):
        record(tenant, f"new-{i}", {"text": "hay"})
    monkeypatch.setattr(selectors, "EVENT_TEXT_SCAN", 3)
    assert found(api, "needle") == []
    assert api.get(f"{BASE}/events", {"q": "needle"})["X-Search-Reach"] == "3"  # the caller learns the search was bounded
    monkeypatch.setattr(selectors, "EVENT_TEXT_SCAN", 4)
    assert found(api, "needle") == ["old"]
    assert "X-Search-Reach" not in api.get(f"{BASE}/events")  # no text, no bound


def test_on_sqlite_a_search_without_a_reach_still_reads_only_the_newest_events(tenant, monkeypatch):
    """None means every event through PostgreSQL's text index; SQLite has none, so it must not mean a scan of them all."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's bound")
    old = record(tenant, "old", {"text": "needle"})
    Event.objects.filter(pk=old.pk).update(received_at=timezone.now() - timezone.timedelta(days=1))
    record(tenant, "new", {"text": "needle"})
    monkeypatch.setattr(selectors, "EVENT_TEXT_SCAN", 1)
    assert [e.event_id for e in selectors.events_containing(Event.objects.all(), tenant, "needle", None)] == ["new"]


def test_the_text_index_is_off_until_an_operator_turns_it_on(db):
    """Every stored event would pay for its trigrams (issue 15): a fresh database has no text index."""
    out = StringIO()
    call_command("event_text_index", stdout=out)
    assert text_index.state(connection) == text_index.ABSENT
    assert "newest 10,000 events" in out.getvalue()


def test_on_sqlite_there_is_no_text_index_to_turn_on(db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's answer")
    with pytest.raises(CommandError, match="sqlite has no text index"):
        call_command("event_text_index", "on", stdout=StringIO())


def plan_of(query):
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: ask whether the index can serve the text at all
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    return plan


@pytest.mark.postgres
def test_with_the_text_index_on_a_search_reads_every_event_through_it(transactional_db, api_client_for, monkeypatch):
    from tenants.services import create_tenant

    tenant = create_tenant("acme")[0]
    old = record(tenant, "old", {"order": {"number": "ORD-2024-0042"}})
    Event.objects.filter(pk=old.pk).update(received_at=timezone.now() - timezone.timedelta(days=1))
    record(tenant, "new", {"text": "hay"})
    monkeypatch.setattr(selectors, "EVENT_TEXT_SCAN", 1)
    api = api_client_for(tenant)
    assert [e["id"] for e in api.get(f"{BASE}/events", {"q": "ord-2024"}).json()] == []
    try:
        out = StringIO()
        call_command("event_text_index", "on", stdout=out)
        assert "ready; searches read every event" in out.getvalue()
        searched = api.get(f"{BASE}/events", {"q": "ord-2024"})
        assert [e["id"] for e in searched.json()] == ["old"] and "X-Search-Reach" not in searched
        assert "event_data_trgm" in plan_of(selectors.events_containing(Event.objects.order_by(), tenant, "ORD-2024", selectors.text_search_reach()))
        call_command("event_text_index", "on", stdout=out)
        assert "already built" in out.getvalue()
    finally:
        call_command("event_text_index", "off", stdout=StringIO())
    assert text_index.state(connection) == text_index.ABSENT
    assert [e["id"] for e in api.get(f"{BASE}/events", {"q": "ord-2024"}).json()] == []


def test_deliveries_are_found_by_event_id_and_webhook_id(api, tenant, other_tenant, events, api_client_for):
    endpoint = create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["*"]})[0]
    now = timezone.now()
    made = {key: Delivery.objects.create(tenant=tenant, event=event, endpoint=endpoint, url=endpoint.url, event_type=event.type, body="{}", created_at=now)
            for key, event in events.items()}
    listed = api.get(f"{BASE}/deliveries", {"eventId": "e-mail"}).json()
    assert [d["id"] for d in listed] == [str(made["e-mail"].pk)]
    listed = api.get(f"{BASE}/deliveries", {"webhookId": made["e-order"].webhook_id}).json()
    assert [d["id"] for d in listed] == [str(made["e-order"].pk)]
    assert api.get(f"{BASE}/deliveries", {"eventId": "theirs"}).json() == []
    assert api_client_for(other_tenant).get("/webhook/globex/deliveries", {"webhookId": made["e-order"].webhook_id}).json() == []
    assert api.get(f"{BASE}/deliveries", {"eventId": "x" * 201}).status_code == 400


def test_the_dashboards_events_page_searches_bodies(tenant, events):
    user, _ = ensure_user("vera", "pw-123456!")
    add_member(tenant, user, Role.VIEWER)
    client = Client()
    client.force_login(user)
    page = client.get("/t/acme/events/", {"text": "ord-2024"}).content.decode()
    assert "e-order" in page and "e-mail" not in page and "theirs" not in page
    assert "looked for in the newest 10,000 events" in page
    refused = client.get("/t/acme/events/", {"text": "ab"}).content.decode()
    assert "Search for 3 to 200 characters." in refused


@pytest.mark.postgres
def test_on_postgresql_a_search_that_takes_too_long_is_stopped_and_says_so(transactional_db, api_client_for, monkeypatch):
    """The statements of a search are cancelled after EVENT_TEXT_TIMEOUT_MS: here the table is held by another
    session (as a search reading millions of bodies would hold the database), and the answer comes in time."""
    import threading
    import time

    import psycopg

    from tenants.services import create_tenant

    tenant = create_tenant("acme")[0]
    record(tenant, "e-1", {"text": "needle"})
    api = api_client_for(tenant)
    user, _ = ensure_user("vera", "pw-123456!")
    add_member(tenant, user, Role.VIEWER)
    viewer = Client()
    viewer.force_login(user)
    monkeypatch.setattr(selectors, "EVENT_TEXT_TIMEOUT_MS", 300)
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"], password=settings["PASSWORD"],
                         dbname=settings["NAME"]) as blocker:
        blocker.execute("LOCK TABLE subscriptions_event IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(5, blocker.rollback)  # without the bound, the search ends when the lock does
        release.start()
        began = time.monotonic()
        response = api.get(f"{BASE}/events", {"q": "needle"})
        page = viewer.get("/t/acme/events/", {"text": "needle"})
        took = time.monotonic() - began
        release.cancel()
        blocker.rollback()
    assert took < 2.5
    assert response.status_code == 400 and "took longer than 0.3 s" in response.json()["problems"][0]["message"]
    assert page.status_code == 400 and "took longer than 0.3 s" in page.content.decode()
    assert [item["id"] for item in api.get(f"{BASE}/events", {"q": "needle"}).json()] == ["e-1"]
    assert api.get(f"{BASE}/events").status_code == 200  # the timeout was this search's only

"""Recover: the failed deliveries of a window sent again in one action, each with its webhook-id and new attempts; the
window is checked (both bounds, with a time zone, since before until, at most 31 days); API and dashboard."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from subscriptions.delivery.worker import deliver_now
from subscriptions.endpoints.services import create_endpoint, update_endpoint
from subscriptions.models import Delivery, DeliveryStatus, Event
from tenants.models import Role
from tenants.services import add_member, ensure_user

pytestmark = pytest.mark.django_db

BASE = "/webhook/acme"
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def local_receivers(settings):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0]}


@pytest.fixture
def endpoint(tenant, receiver):
    return create_endpoint(tenant, {"url": receiver.url(), "events": ["product.*"], "timeout_seconds": 2})[0]


def delivery(endpoint, status, hours_ago):
    when = timezone.now() - timedelta(hours=hours_ago)
    event = Event.objects.create(tenant=endpoint.tenant, event_id=f"evt-{Event.objects.count()}", type="product.created",
                                 timestamp=when, data={"id": "p1"}, received_at=when)
    return Delivery.objects.create(tenant=endpoint.tenant, event=event, endpoint=endpoint, url=endpoint.url, event_type="product.created",
                                   body='{"id":"p1"}', status=status, attempt_count=1, last_status_code=500 if status == "failed" else 200,
                                   created_at=when, finished_at=None if status == DeliveryStatus.PENDING else when,
                                   next_attempt_at=timezone.now() + HOUR if status == DeliveryStatus.PENDING else None)


def window(since_hours_ago, until_hours_ago=0):
    now = timezone.now()
    return {"since": (now - timedelta(hours=since_hours_ago)).isoformat(), "until": (now - timedelta(hours=until_hours_ago)).isoformat()}


def recover(api, endpoint, **params):
    return api.post(f"{BASE}/endpoints/{endpoint.pk}/recover?{urlencode(params)}")


def test_only_the_failed_deliveries_of_the_window_are_sent_again_with_their_webhook_ids(api, tenant, endpoint, receiver):
    inside = [delivery(endpoint, DeliveryStatus.FAILED, hours) for hours in (2, 3)]
    untouched = [delivery(endpoint, DeliveryStatus.FAILED, 30), delivery(endpoint, DeliveryStatus.SUCCEEDED, 2),
                 delivery(endpoint, DeliveryStatus.PENDING, 2)]
    other = create_endpoint(tenant, {"url": receiver.url("/other"), "events": ["product.*"]})[0]
    untouched.append(delivery(other, DeliveryStatus.FAILED, 2))
    response = recover(api, endpoint, **window(24))
    assert response.status_code == 202 and response.json() == {"deliveries": 2}
    assert deliver_now() == 2
    assert sorted(r.webhook_id for r in receiver.received) == sorted(d.webhook_id for d in inside)
    for original in inside:
        again = Delivery.objects.get(pk=original.pk)
        assert again.status == DeliveryStatus.SUCCEEDED and again.attempts.count() == 1 and again.webhook_id == original.webhook_id
    for original in untouched:
        now = Delivery.objects.get(pk=original.pk)
        assert (now.status, now.next_attempt_at) == (original.status, original.next_attempt_at)


@pytest.mark.parametrize("params, field", [
    ({"since": "2026-01-01T00:00:00Z"}, "until"),
    ({"until": "2026-01-01T00:00:00Z"}, "since"),
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:01Z"}, "until"),
    ({"since": "2026-01-01T00:00:00", "until": "2026-01-02T00:00:00Z"}, "since"),
    ({"since": "yesterday", "until": "2026-01-02T00:00:00Z"}, "since"),
])
def test_a_bad_window_is_a_400_naming_the_bound_and_recovers_nothing(api, endpoint, params, field):
    failed = delivery(endpoint, DeliveryStatus.FAILED, 2)
    response = recover(api, endpoint, **params)
    assert response.status_code == 400, response.content
    assert [d["field"] for d in response.json()["problems"]] == [field]
    assert Delivery.objects.get(pk=failed.pk).status == DeliveryStatus.FAILED


def test_a_window_of_31_days_is_accepted_and_offsets_are_read_as_instants(api, endpoint):
    assert recover(api, endpoint, since="2026-01-01T00:00:00Z", until="2026-02-01T00:00:00Z").status_code == 202
    assert recover(api, endpoint, since="2026-01-01T02:00:00+02:00", until="2026-01-01T00:00:01Z").status_code == 202


def test_a_disabled_endpoint_is_a_conflict_and_unknown_or_other_tenants_endpoints_are_not_found(api, endpoint, other_tenant, api_client_for):
    failed = delivery(endpoint, DeliveryStatus.FAILED, 2)
    assert recover(api_client_for(other_tenant), endpoint, **window(24)).status_code == 403
    theirs = create_endpoint(other_tenant, {"url": "https://hooks.example.com/t", "events": ["*"]})[0]
    assert recover(api, theirs, **window(24)).status_code == 404
    update_endpoint(endpoint, {"enabled": False}, endpoint.version)
    response = recover(api, endpoint, **window(24))
    assert response.status_code == 409 and "disabled" in response.json()["message"]
    assert Delivery.objects.get(pk=failed.pk).status == DeliveryStatus.FAILED


def test_the_dashboard_button_recovers_for_editors_only(tenant, endpoint):
    failed = delivery(endpoint, DeliveryStatus.FAILED, 2)
    clients = {}
    for role in (Role.VIEWER, Role.EDITOR):
        user, _ = ensure_user(f"{role}-user", "pw-123456!")
        add_member(tenant, user, role)
        clients[role] = Client()
        clients[role].force_login(user)
    url = f"/t/acme/endpoints/{endpoint.pk}/recover/"
    now = timezone.now()
    form = {"since": (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"), "until": (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")}
    assert clients[Role.VIEWER].post(url, form).status_code == 403
    assert Delivery.objects.get(pk=failed.pk).status == DeliveryStatus.FAILED
    assert b"Recover failed deliveries" in clients[Role.EDITOR].get(f"/t/acme/endpoints/{endpoint.pk}/").content
    page = clients[Role.EDITOR].post(url, {**form, "until": form["since"]}, follow=True).content.decode()
    assert "Must be after since." in page and Delivery.objects.get(pk=failed.pk).status == DeliveryStatus.FAILED
    page = clients[Role.EDITOR].post(url, form, follow=True).content.decode()
    assert "Sending again 1 failed delivery" in page and Delivery.objects.get(pk=failed.pk).status == DeliveryStatus.PENDING

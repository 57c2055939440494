"""GET /webhook/{tenant}/statistics (webhooks sent per month, the tenant's webhooksLimit) and the limit itself: past
it events are stored, their deliveries recorded as not sent, and the overview says so."""

from datetime import datetime, timezone

import pytest
from django.core.management import call_command
from django.utils import timezone as django_timezone

from subscriptions.emporix.limits import LIMIT_ERROR, add_months, month_start
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus, Event
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change

pytestmark = pytest.mark.django_db

URL = "/webhook/acme/statistics"


@pytest.fixture
def hook(tenant):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    return create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.created"]})[0]


def publish(tenant, *ids, now=None):
    return record_events(tenant, [IncomingEvent("product.created", {"id": i}, id=i) for i in ids], now=now)


def finish(event_id, status, finished_at):
    Delivery.objects.filter(event__event_id=event_id).update(status=status, finished_at=finished_at)


def test_succeeded_deliveries_are_counted_per_month_newest_first_with_empty_months(api, tenant, hook):
    publish(tenant, "a", "b", "c", "d")
    finish("a", DeliveryStatus.SUCCEEDED, datetime(2026, 1, 31, 23, 59, tzinfo=timezone.utc))
    finish("b", DeliveryStatus.SUCCEEDED, datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc))
    finish("c", DeliveryStatus.SUCCEEDED, datetime(2026, 3, 15, tzinfo=timezone.utc))
    finish("d", DeliveryStatus.FAILED, datetime(2026, 3, 16, tzinfo=timezone.utc))  # not sent successfully
    response = api.get(URL, {"fromYearMonth": "2026-01", "toYearMonth": "2026-03"})
    assert response.status_code == 200
    assert response.json() == {"monthStatistics": [
        {"statisticsMonth": "2026-03", "succesfullySentWebhooks": 2},
        {"statisticsMonth": "2026-02", "succesfullySentWebhooks": 0},
        {"statisticsMonth": "2026-01", "succesfullySentWebhooks": 1},
    ]}


def test_without_parameters_the_last_twelve_months_and_the_limit_when_the_tenant_has_one(api, tenant):
    months = api.get(URL).json()["monthStatistics"]
    this_month = month_start(django_timezone.now())
    assert [m["statisticsMonth"] for m in months] == [add_months(this_month, -n).strftime("%Y-%m") for n in range(12)]
    assert "webhooksLimit" not in api.get(URL).json()
    call_command("create_tenant", "acme", "--webhooks-limit", "10000")
    assert api.get(URL).json()["webhooksLimit"] == 10000


@pytest.mark.parametrize("query", [{"fromYearMonth": "2026-13"}, {"toYearMonth": "26-01"}, {"fromYearMonth": "2026-1"},
                                   {"fromYearMonth": "2026-04", "toYearMonth": "2026-03"},
                                   {"fromYearMonth": "2000-01", "toYearMonth": "2026-03"}])
def test_a_bad_month_range_is_a_400_naming_the_parameter(api, query):
    response = api.get(URL, query)
    assert response.status_code == 400
    assert response.json()["problems"][0]["field"] in ("fromYearMonth", "toYearMonth")


def test_past_the_monthly_limit_events_are_stored_but_their_deliveries_are_not_sent(tenant, hook):
    tenant.webhooks_limit = 2
    tenant.save()
    now = datetime(2026, 5, 20, tzinfo=timezone.utc)
    publish(tenant, "a", "b", now=now)
    publish(tenant, "c", now=now)
    assert Event.objects.count() == 3
    held = Delivery.objects.get(event__event_id="c")
    assert (held.status, held.next_attempt_at) == (DeliveryStatus.FAILED, None)
    assert held.last_error == LIMIT_ERROR.format(limit=2)
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2
    # a new month starts afresh
    publish(tenant, "d", now=datetime(2026, 6, 1, tzinfo=timezone.utc))
    assert Delivery.objects.get(event__event_id="d").status == DeliveryStatus.PENDING


def test_a_tenant_without_a_limit_is_never_held(tenant, hook):
    publish(tenant, *[f"e{i}" for i in range(5)])
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 5


def test_one_tenants_limit_does_not_hold_another_tenant(tenant, other_tenant, hook):
    apply_subscription_change(other_tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(other_tenant, {"url": "https://hooks.example.com/b", "events": ["product.created"]})
    tenant.webhooks_limit = 0
    tenant.save()
    publish(tenant, "a")
    publish(other_tenant, "a")
    assert Delivery.objects.get(tenant=tenant).status == DeliveryStatus.FAILED
    assert Delivery.objects.get(tenant=other_tenant).status == DeliveryStatus.PENDING


def test_the_overview_says_when_the_limit_is_reached(client, tenant, hook):
    from django.contrib.auth import get_user_model

    from tenants.models import Membership, Role

    user = get_user_model().objects.create_user("olga", password="pw-123456789")
    Membership.objects.create(user=user, tenant=tenant, role=Role.VIEWER)
    client.force_login(user)
    call_command("create_tenant", "acme", "--webhooks-limit", "1")
    assert "1 of this month" not in client.get("/t/acme/").content.decode()
    assert "0 of this month's 1 webhooks used" in client.get("/t/acme/").content.decode()
    publish(tenant, "a", "b")
    page = client.get("/t/acme/").content.decode()
    assert "The monthly webhooks limit (1) is reached" in page and "not delivered" in page


@pytest.mark.parametrize("text", ["-1", "ten", "1.5", "²"])
def test_create_tenant_refuses_a_limit_that_is_not_a_whole_number(tenant, text):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_tenant", "acme", "--webhooks-limit", text)


def test_a_limit_changed_by_another_process_is_read_again_within_the_ttl(tenant, hook, monkeypatch):
    from subscriptions.emporix import limits
    from tenants.models import Tenant

    publish(tenant, "a")  # this process now holds "no limit" for the tenant
    Tenant.objects.filter(pk=tenant.pk).update(webhooks_limit=0)  # as another process would: no signal here
    publish(tenant, "b")
    assert Delivery.objects.get(event__event_id="b").status == DeliveryStatus.PENDING  # within the TTL
    monkeypatch.setattr(limits, "LIMIT_TTL", 0.0)
    limits._limits.clear()
    publish(tenant, "c")
    assert Delivery.objects.get(event__event_id="c").status == DeliveryStatus.FAILED

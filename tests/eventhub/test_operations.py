"""What operators rely on: liveness, readiness naming the broken dependency, Prometheus metrics, JSON logs, pruning."""

import json
import logging
import logging.config
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from eventhub import health
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import DeadLetter, Delivery, DeliveryStatus, Event
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.retention import prune
from subscriptions.services import SubscriptionChange, apply_subscription_change
from tests.conftest import free_port, metric_sample


@pytest.fixture(autouse=True)
def fresh_probe_cache():
    health._cache.clear()
    yield
    health._cache.clear()


@pytest.mark.django_db
def test_readyz_is_200_on_the_embedded_default(client, settings):
    settings.AMQP_URL = settings.REDIS_URL = None
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "not configured", "channel_layer": "in-memory"}}


@pytest.mark.django_db
def test_readyz_is_503_naming_an_unreachable_broker_and_redis(client, settings):
    port = free_port()
    settings.AMQP_URL = f"amqp://guest:guest@127.0.0.1:{port}/"
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["broker"].startswith("error") and checks["channel_layer"].startswith("error")


@pytest.mark.django_db
@pytest.mark.rabbitmq
@pytest.mark.redis
def test_readyz_is_200_with_the_real_broker_and_redis(client, settings):
    from tests.conftest import SERVICE_URLS

    settings.AMQP_URL, settings.REDIS_URL = SERVICE_URLS["rabbitmq"], SERVICE_URLS["redis"]
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "channel_layer": "ok"}


@pytest.mark.django_db(transaction=True)
def test_metrics_count_recorded_events_and_show_the_queue_depth(client):
    from tests.conftest import create_tenant

    tenant = create_tenant("acme")[0]
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})

    before = client.get("/metrics").content.decode()
    record_events(tenant, [IncomingEvent("product.created", {"id": str(i)}) for i in range(3)])
    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    name = 'eventhub_events_recorded_total{origin="http"}'
    assert metric_sample(text, name) - metric_sample(before, name) == 3
    assert metric_sample(text, 'eventhub_deliveries_pending{due="now"}') == 3
    assert "eventhub_delivery_attempt_seconds_bucket" in text and "acme" not in text  # no tenant names leak


def test_json_log_format_writes_one_json_object_per_line_with_extra_fields(settings, capsys):
    config = {**settings.LOGGING, "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}}}
    logging.config.dictConfig(config)
    try:
        logging.getLogger("eventhub.test").warning("delivery failed", extra={"event_id": "evt-1", "tenant": "acme"})
        line = capsys.readouterr().out.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["message"] == "delivery failed" and record["event_id"] == "evt-1" and record["level"] == "WARNING"
    finally:
        logging.config.dictConfig(settings.LOGGING)


@pytest.mark.django_db
class TestPrune:
    def old_and_new(self, tenant):
        apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
        create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["product.*"]})
        record_events(tenant, [IncomingEvent("product.created", {}, id=f"old-{i}") for i in range(3)])
        Event.objects.update(received_at=timezone.now() - timedelta(days=40))
        Delivery.objects.filter(event__event_id__in=["old-0", "old-1"]).update(status=DeliveryStatus.SUCCEEDED)
        record_events(tenant, [IncomingEvent("product.created", {}, id="new")])
        DeadLetter.objects.create(reason="not JSON", received_at=timezone.now() - timedelta(days=40))
        DeadLetter.objects.create(reason="not JSON", received_at=timezone.now())

    def test_old_finished_events_go_but_pending_ones_and_recent_ones_stay(self, tenant):
        self.old_and_new(tenant)
        result = prune(days=30)
        assert (result.events, result.deliveries, result.dead_letters, result.kept_pending) == (2, 2, 1, 1)
        assert sorted(Event.objects.values_list("event_id", flat=True)) == ["new", "old-2"]
        assert DeadLetter.objects.count() == 1

    def test_dry_run_counts_and_removes_nothing(self, tenant, capsys):
        self.old_and_new(tenant)
        call_command("prune", "--days", "30", "--dry-run")
        assert "would remove 2 events, 2 deliveries, 1 dead letters; kept 1 old events" in capsys.readouterr().out
        assert Event.objects.count() == 4 and DeadLetter.objects.count() == 2

    def test_negative_days_is_a_clear_error(self):
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="days must be 0 or more"):
            call_command("prune", "--days", "-1")


@pytest.mark.django_db
def test_https_mode_redirects_pages_but_not_the_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = settings.PROBE_PATHS
    assert client.get("/api/schema/").status_code == 301
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200

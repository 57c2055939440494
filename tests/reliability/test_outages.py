"""Servers going away and coming back, simulated without touching the shared servers: a TCP proxy in front of
RabbitMQ that cuts every connection and refuses new ones for a while (a broker stopped, then started), and
pg_terminate_backend on the test database's sessions (a database restart). After each, nothing is lost or doubled
and the processes carry on by themselves."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
import pytest
from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from monitor.bridge import Bridge
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Delivery, DeliveryStatus, Event, Source
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.broker.sources import create_source
from tests.conftest import SERVICE_URLS, restart_other_sessions
from tests.subscriptions.broker_helpers import TcpProxy, running_dispatcher, wait_until

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = 2.5


@pytest.fixture
def rabbit_proxy():
    proxy = TcpProxy.to_broker(SERVICE_URLS["rabbitmq"])
    yield proxy
    proxy.close()


def publish_many(broker, count, start=0):
    for n in range(start, start + count):
        broker.publish(f"ec.model.{n}.entryCreated", {"n": n}, message_id=f"m{n}")


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_outlives_a_broker_stop_and_start_losing_and_doubling_nothing(tenant, broker, rabbit_proxy, settings):
    settings.EVENTHUB = {**settings.EVENTHUB, "RECONNECT_MAX_SECONDS": 0.5}
    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    apply_subscription_change(tenant, SubscriptionChange("entryCreated", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": "https://hooks.example.com/a", "events": ["entryCreated"]})
    create_endpoint(tenant, {"url": "https://hooks.example.com/b", "events": ["entry*"]})
    options = broker.dispatcher_options(url=rabbit_proxy.url, batch_size=50, prefetch=100, batch_ms=20)
    with running_dispatcher(**options) as dispatcher:
        publish_many(broker, 500)
        wait_until(lambda: Event.objects.count() > 0, what="a first batch")
        rabbit_proxy.down()  # the broker stops: connections die, new ones are refused
        publish_many(broker, 500, start=500)  # the publishers' broker is up (they do not go through the proxy)
        wait_until(lambda: rabbit_proxy.refused >= 2, timeout=10, what="the dispatcher trying to reconnect")
        time.sleep(OUTAGE_SECONDS)
        assert not dispatcher.ready.is_set() and dispatcher.thread.is_alive()
        rabbit_proxy.up()  # ... and starts again
        wait_until(lambda: Event.objects.count() == 1000 and broker.depth(broker.queue) == 0, timeout=90,
                   what="every message after the broker came back")
        assert dispatcher.ready.is_set()
    assert Event.objects.values("event_id").distinct().count() == 1000
    assert sorted(Event.objects.values_list("data__n", flat=True)) == list(range(1000))
    assert Delivery.objects.count() == 2 * 1000  # each event once per matching endpoint, none twice
    assert not Delivery.objects.values("event_id", "endpoint_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert rabbit_proxy.connections >= 2 and broker.depth(broker.dead_queue) == 0


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_the_monitor_bridge_reconnects_after_a_broker_stop_and_taps_again(tenant, rabbit_proxy):
    conn = pika.BlockingConnection(pika.URLParameters(SERVICE_URLS["rabbitmq"]))
    channel = conn.channel()
    exchange = f"test.monitor.{uuid.uuid4().hex[:10]}"
    channel.exchange_declare(exchange, exchange_type="topic")
    now = timezone.now()
    Source.objects.create(tenant=tenant, name="shop", exchange=exchange, binding_keys=["shop.#"], created_at=now, modified_at=now)
    bridge = Bridge(rabbit_proxy.url, refresh=0.2, max_backoff=0.5)
    bridge.start()
    try:
        wait_until(lambda: len(bridge.taps) == 1, timeout=15, what="the tap")
        channel.basic_publish(exchange, "shop.a", b"before")
        wait_until(lambda: bridge.received == 1, timeout=10, what="the first message")
        rabbit_proxy.down()
        wait_until(lambda: not bridge.connected.is_set() and rabbit_proxy.refused >= 1, timeout=10, what="the bridge noticing")
        time.sleep(1)
        assert bridge.is_alive()
        rabbit_proxy.up()
        wait_until(lambda: bridge.connected.is_set() and len(bridge.taps) == 1, timeout=15, what="the bridge back with its tap")
        channel.basic_publish(exchange, "shop.b", b"after")
        wait_until(lambda: bridge.received == 2, timeout=10, what="a message after the outage")
    finally:
        bridge.stop()
        channel.exchange_delete(exchange)
        conn.close()


SETTINGS = "tests.subscriptions.worker_settings"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_deliver_process_outlives_its_database_connections_being_killed(tenant, receiver):
    """at-least-once: a result lost with the connection is sent again under the same webhook-id; none is lost."""
    count = 60
    receiver.script = lambda r: (200, {}, "ok", 0.02)
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": receiver.url(), "events": ["product.created"], "timeout_seconds": 1})
    record_events(tenant, [IncomingEvent("product.created", {"n": n}) for n in range(count)])
    s = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"}
    worker = subprocess.Popen([sys.executable, "manage.py", "deliver", "--concurrency", "4", "--batch", "4"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for kill_after in (10, 30):  # twice, mid-run
            wait_until(lambda: len(receiver.received) >= kill_after, timeout=60, what=f"{kill_after} requests")
            assert restart_other_sessions() >= 1  # every other session of the test database dies, as in a restart
        wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == count, timeout=90,
                   what="every delivery succeeded")
        assert worker.poll() is None  # it carried on by itself
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0]
    assert worker.returncode == 0, output
    assert "database call failed" in output  # the outage was seen, not missed
    ids = set(Delivery.objects.values_list("webhook_id", flat=True))
    assert {r.webhook_id for r in receiver.received} == ids  # every one reached the receiver; duplicates allowed
    assert not Delivery.objects.annotate(rows=Count("attempts")).exclude(attempt_count=F("rows")).exists()
    assert receiver.max_in_flight_per_id == 1

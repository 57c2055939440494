"""`serve --demo`'s first run: a receiver built into the hub, two endpoints to it and a little traffic, so the overview
and the deliveries show success and one failure on purpose; the receiver is not there without --demo."""

import random

import pytest

from dashboard import demo
from dashboard.selectors import overview
from subscriptions.delivery import worker
from subscriptions.models import Delivery, DeliveryStatus, Endpoint
from subscriptions.pipeline.recording import IncomingEvent, record_events


def test_the_echo_receiver_exists_only_in_demo_mode(client, settings):
    settings.EVENTHUB = {**settings.EVENTHUB, "DEMO": False}
    assert client.post("/demo/echo/", b"{}", content_type="application/json").status_code == 404
    settings.EVENTHUB = {**settings.EVENTHUB, "DEMO": True}
    answer = client.post("/demo/echo/", b'{"type": "product.created"}', content_type="application/json", HTTP_WEBHOOK_ID="msg_1")
    assert answer.status_code == 200 and answer.json() == {"received": True, "webhookId": "msg_1", "type": "product.created"}
    assert client.post("/demo/echo/?status=400", b"{}", content_type="application/json").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_the_demo_delivers_to_its_receiver_with_one_failure_on_purpose(live_server, settings, tenant):
    settings.EVENTHUB = {**settings.EVENTHUB, "DEMO": True, "ALLOW_PRIVATE_TARGETS": True}
    demo.set_up(tenant, live_server.url)
    demo.set_up(tenant, live_server.url)  # a second start creates nothing new
    assert Endpoint.objects.filter(tenant=tenant).count() == 2
    record_events(tenant, demo.traffic(tenant, 5, random.Random(1)) + [IncomingEvent(type="customer.created", data={"id": "c1"})])
    assert worker.deliver_now(limit=50) == 6
    statuses = sorted(Delivery.objects.filter(tenant=tenant).values_list("status", flat=True))
    assert statuses == [DeliveryStatus.FAILED] + [DeliveryStatus.SUCCEEDED] * 5
    stats = overview(tenant)
    assert stats["success"].succeeded == 5 and stats["success"].failed == 1


@pytest.mark.django_db
def test_without_a_known_port_the_demo_sets_nothing_up(tenant):
    assert demo.start(tenant, "127.0.0.1", 0) is None
    assert not Endpoint.objects.filter(tenant=tenant).exists()

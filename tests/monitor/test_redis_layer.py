"""With REDIS_URL the monitor's group spans processes: an item published in another process reaches this watcher."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from channels.layers import get_channel_layer

from tests.conftest import SERVICE_URLS
from tests.monitor.conftest import in_event_loop, connected

pytestmark = [pytest.mark.redis, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]

PUBLISHER = """
import sys, time, django
django.setup()
from django.conf import settings
settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [sys.argv[1]], "prefix": sys.argv[2]}}}
from monitor import broadcast
for n in range(3):
    assert broadcast.publish("acme", broadcast.make_message("ingested", "acme", body={"n": n}, type="order.created"))
deadline = time.monotonic() + 10
while broadcast.broadcaster().stats.sent < 3 and time.monotonic() < deadline:
    time.sleep(0.02)
print(broadcast.broadcaster().stats)
"""


@pytest.fixture
def redis_layer(settings):
    prefix = f"test-monitor-{uuid.uuid4().hex[:10]}"
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [SERVICE_URLS["redis"]], "prefix": prefix}}
    }
    return prefix


@in_event_loop
async def test_an_item_published_in_another_process_reaches_the_watcher_through_redis(tenant, member_cookie, redis_layer):
    comm = await connected("acme", cookie=member_cookie)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "eventhub.settings"}
    result = subprocess.run([sys.executable, "-c", PUBLISHER, SERVICE_URLS["redis"], redis_layer], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sent=3" in result.stdout, result.stdout
    found = []
    while len(found) < 3:
        frame = await comm.receive_json_from(timeout=5)
        found += frame["items"]
    assert [i["body"] for i in found] == ['{"n":0}', '{"n":1}', '{"n":2}'] and {i["tenant"] for i in found} == {"acme"}
    await comm.disconnect()
    await get_channel_layer().flush()

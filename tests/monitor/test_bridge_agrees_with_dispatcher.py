"""One message, one reading: the live monitor's broker row and the event the dispatcher records name the same type, the
same id and spell the AMQP properties the same way (both read subscriptions/core/amqp.py; the bridge once kept its own
copy and showed `sendMail` for `cmd.sendMail` and `message_id` beside the ingested row's `messageId`)."""

import uuid

import pytest
from asgiref.sync import sync_to_async

from monitor.bridge import Bridge
from subscriptions.models import Event
from subscriptions.broker.sources import create_source
from tests.conftest import SERVICE_URLS
from tests.monitor.conftest import connected
from tests.monitor.test_bridge import synced
from tests.subscriptions.broker_helpers import Broker, running_dispatcher

pytestmark = [pytest.mark.rabbitmq, pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

# (routing key, AMQP type property or None, appId, body, the type the dispatcher records), shaped like entrecode's
# messages (seeds/000): only ec.tasks-api sends tasks; builds carry no type property at all.
APP = "28c365d5-df94-4a54-8217-3ce51d068868"
MESSAGES = [
    ("entrecode.de.cmd.sendMail", None, APP, {"mail": {"to": "a@example.com"}, "domain": "entrecode.de"}, "cmd.sendMail"),
    ("ac4e77da.cmd.sendPush", "cmd.sendPush", APP, {"appsiteID": "ac4e77da", "notification": {}, "accountIDs": []}, "cmd.sendPush"),
    # an ec.task: the type property is the task identifier; the catalog's appId rule types it
    ("publishEntries", "publishEntries", "ec.tasks-api", {"commandID": "c1", "_accountID": "41d7413d"}, "cmd.startTask"),
    ("ios", None, None, {"platform": "ios"}, "cmd.startBuild"),
    ("ios", None, None, {"uuid": "095be615", "message": "compiling", "buildID": "b1", "eventType": "e"}, "buildEvent"),
    ("android", None, None, {"result": "success", "buildID": "b1", "content": None}, "buildFinished"),
    ("035af82b.mymodel.e9.entryCreated", None, APP, {"entryID": "e9"}, "entryCreated"),
]


@pytest.fixture
def broker():
    broker = Broker(SERVICE_URLS["rabbitmq"])
    yield broker
    broker.delete()


async def received(comm, want, timeout=20):
    found = []
    while len(found) < want:
        found += (await comm.receive_json_from(timeout=timeout))["items"]
    return found


async def test_the_monitor_shows_the_type_id_and_property_names_the_dispatcher_records(tenant, member_cookie, broker):
    await sync_to_async(create_source)(
        tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]}
    )
    comm = await connected("acme", cookie=member_cookie)
    tap = Bridge(SERVICE_URLS["rabbitmq"], refresh=0.2, max_backoff=0.5)
    tap.start()
    try:
        await synced(tap, 1)
        with running_dispatcher(**broker.dispatcher_options(batch_ms=50)):
            sent = {}
            for routing_key, amqp_type, app_id, body, expected in MESSAGES:
                message_id = str(uuid.uuid4())
                sent[message_id] = expected
                broker.publish(routing_key, body, type=amqp_type, message_id=message_id, app_id=app_id, timestamp=1700000000123)
            items = await received(comm, 2 * len(MESSAGES))
    finally:
        tap.stop()
    await comm.disconnect()

    rows = {kind: {i["eventId"]: i for i in items if i["kind"] == kind} for kind in ("broker", "ingested")}
    events = {e.event_id: e for e in await sync_to_async(list)(Event.objects.all())}
    assert set(rows["broker"]) == set(rows["ingested"]) == set(events) == set(sent)
    for event_id, expected in sent.items():
        broker_row, ingested_row, event = rows["broker"][event_id], rows["ingested"][event_id], events[event_id]
        assert broker_row["type"] == ingested_row["type"] == event.type == expected
        assert broker_row["properties"] == ingested_row["properties"] == event.properties
        assert broker_row["properties"]["messageId"] == event_id and "message_id" not in broker_row["properties"]
        assert broker_row["routingKey"] == ingested_row["routingKey"] == event.routing_key

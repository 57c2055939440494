"""`manage.py dispatch` as a process against PostgreSQL and RabbitMQ: SIGTERM exits 0 with its batch acknowledged;
kill -9 mid-batch and a restart lose and duplicate nothing; a cut connection is re-established; poison is dead-lettered."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from subscriptions.models import DeadLetter, Event
from subscriptions.broker.sources import create_source
from tests.conftest import restart_other_sessions
from tests.subscriptions.broker_helpers import TcpProxy, running_dispatcher, wait_until

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spawn(broker, tmp_path):
    """spawn(*args) -> a `manage.py dispatch` process on the test database and this test's queues."""
    processes = []
    settings = connection.settings_dict
    database_url = f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"

    def start(*args):
        env = {**os.environ, "DATABASE_URL": database_url, "AMQP_URL": broker.url, "LOG_LEVEL": "INFO"}
        command = [sys.executable, "manage.py", "dispatch", "--queue", broker.queue, "--dead-exchange", broker.dead_exchange,
                   "--dead-queue", broker.dead_queue, *args]
        log = open(tmp_path / f"dispatch-{len(processes)}.log", "wb")  # a file, not a pipe nobody reads (it could fill)
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        process.log_path = log.name
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def publish_many(broker, count, start=0):
    for n in range(start, start + count):
        broker.publish(f"ec.model.{n}.entryCreated", {"n": n}, message_id=f"m{n}")


def event_count():
    return Event.objects.count()


def consuming(process):
    """Wait until the dispatcher has declared its queue AND bound it to the sources' exchanges: it logs "dispatcher
    consuming" only then. (Publishing as soon as the queue exists would race the binding: RabbitMQ drops, and
    confirms, what an exchange cannot route, so the first messages would never reach the queue.)"""
    wait_until(lambda: "dispatcher consuming" in Path(process.log_path).read_text(), timeout=60, interval=0.1,
               what="the dispatcher consuming with its queue bound")


def diagnose(process):
    """What a stuck dispatcher is doing: its threads' stacks (py-spy, when installed) and the database's sessions."""
    out = []
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if Path(spy).exists():
        dump = subprocess.run([spy, "dump", "--pid", str(process.pid)], capture_output=True, text=True, timeout=30)
        out.append(dump.stdout[-6000:] or dump.stderr[-2000:])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, state, wait_event_type, wait_event, now() - xact_start, left(query, 120) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        out += [repr(row) for row in cursor.fetchall()]
    return "\n".join(out)


def test_sigterm_finishes_the_batch_acks_and_exits_0(tenant, broker, spawn):
    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    process = spawn("--batch-ms", "600000", "--batch-size", "100000")  # open until the SIGTERM, however slow the machine
    consuming(process)
    publish_many(broker, 300)
    wait_until(lambda: broker.depth(broker.queue) == 0, what="the dispatcher holding every message")  # all prefetched
    assert event_count() == 0  # the batch is still open (10 min)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, Path(process.log_path).read_text()
    # What reached the batch is committed AND acknowledged (else it would be back in the queue as well); what
    # pika had received but not yet handed over was returned to the queue for the next dispatcher.
    # Unacknowledged messages of the closed connection return to the queue; acknowledged ones never do.
    # (30 s: a loaded broker takes its time to requeue a closed channel's messages into a quorum queue.)
    seen = []
    try:
        wait_until(lambda: seen.append((event_count(), broker.depth(broker.queue), broker.depth(broker.dead_queue))) or sum(seen[-1][:2]) == 300,
                   timeout=30, what="the held messages back in the queue")
    except AssertionError:
        queues = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name", "messages_ready", "messages_unacknowledged", "consumers"],
                                capture_output=True, text=True, timeout=60).stdout
        mine = [line for line in queues.splitlines() if broker.queue in line or broker.dead_queue in line]
        raise AssertionError(f"events, queued, dead-lettered: {seen[-1]}; {mine}\n{Path(process.log_path).read_text()}") from None
    assert event_count() > 0


def test_kill_9_mid_batch_and_restart_every_message_becomes_exactly_one_event(tenant, broker, spawn):
    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    total = 4000
    process = spawn("--batch-size", "200", "--prefetch", "400", "--batch-ms", "100")
    consuming(process)
    publish_many(broker, total // 2)
    wait_until(lambda: 0 < event_count(), timeout=60, what="some events committed")
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    committed = event_count()
    assert committed < total  # it died mid-stream
    publish_many(broker, total // 2, start=total // 2)
    restarted = spawn("--batch-size", "200", "--prefetch", "400", "--batch-ms", "100")
    try:
        wait_until(lambda: event_count() == total and broker.depth(broker.queue) == 0, timeout=120, what="every message as an event")
    except AssertionError:
        raise AssertionError(f"{event_count()} events, {broker.depth(broker.queue)} queued, {broker.depth(broker.dead_queue)} dead; "
                             f"{Path(restarted.log_path).read_text()[-3000:]}\n{diagnose(restarted)}")
    assert Event.objects.values("event_id").distinct().count() == total
    assert sorted(Event.objects.values_list("data__n", flat=True)) == list(range(total))


def test_a_cut_connection_is_re_established_and_nothing_is_lost_or_doubled(tenant, broker, settings):
    settings.EVENTHUB = {**settings.EVENTHUB, "RECONNECT_MAX_SECONDS": 1}
    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    proxy = TcpProxy.to_broker(broker.url)
    options = broker.dispatcher_options(url=proxy.url, batch_size=50, prefetch=100, batch_ms=20)
    try:
        with running_dispatcher(**options):
            publish_many(broker, 1000)
            wait_until(lambda: event_count() > 0, what="a first batch")
            proxy.cut()  # every open connection through the proxy dies, as with a broker restart
            publish_many(broker, 1000, start=1000)
            wait_until(lambda: event_count() == 2000 and broker.depth(broker.queue) == 0, timeout=90, what="everything after reconnecting")
        assert Event.objects.values("event_id").distinct().count() == 2000
        assert proxy.connections >= 2
    finally:
        proxy.close()


def test_a_message_the_database_would_refuse_is_dead_lettered_for_its_tenant_and_the_rest_of_its_batch_stored(tenant, broker):
    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    with running_dispatcher(**broker.dispatcher_options(batch_ms=300)):
        publish_many(broker, 5)
        broker.publish("ec.model.x.entryCreated", b'{"text": "nul \\u0000 inside"}', message_id="poison")  # jsonb refuses \u0000
        publish_many(broker, 5, start=5)
        wait_until(lambda: event_count() == 10 and DeadLetter.objects.count() == 1, what="the batch stored without the poison")
        wait_until(lambda: broker.depth(broker.queue) == 0)
    row = DeadLetter.objects.get()
    assert row.reason == "body.text holds a NUL character (\\u0000), which the hub cannot store."  # refused at conversion
    assert row.tenant_id == tenant.id and row.properties["messageId"] == "poison"
    assert len(broker.drain(broker.dead_queue)) == 1


def test_database_connections_killed_mid_stream_lose_and_double_nothing(tenant, broker, settings):
    settings.EVENTHUB = {**settings.EVENTHUB, "RECONNECT_MAX_SECONDS": 1}
    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    with running_dispatcher(**broker.dispatcher_options(batch_size=50, prefetch=100, batch_ms=20)) as dispatcher:
        publish_many(broker, 1000)
        wait_until(lambda: event_count() > 0, what="a first batch")
        restart_other_sessions()  # as a database restart would: every other session of this database dies
        publish_many(broker, 1000, start=1000)
        wait_until(lambda: event_count() == 2000 and broker.depth(broker.queue) == 0, timeout=90, what="everything after the database came back")
        assert dispatcher.thread.is_alive()
    assert Event.objects.values("event_id").distinct().count() == 2000


def test_a_dispatch_process_serves_the_events_it_recorded(tenant, broker, spawn):
    """Scaled out, the web server's /metrics cannot count what a dispatcher recorded: it serves its own counters."""
    import urllib.request

    from tests.conftest import free_port, metric_sample

    create_source(tenant, {"name": "ec", "exchange": broker.exchange, "binding_keys": ["#"]})
    port = free_port()
    process = spawn("--batch-ms", "50", "--metrics-port", str(port))
    consuming(process)
    publish_many(broker, 5)
    wait_until(lambda: event_count() == 5, timeout=60, what="five events")

    def recorded():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return metric_sample(response.read().decode(), 'eventhub_events_recorded_total{origin="broker"}')

    wait_until(lambda: recorded() == 5, timeout=30, what="the dispatcher's counter at 5")
    assert f"counters on http://127.0.0.1:{port}/metrics" in Path(process.log_path).read_text()

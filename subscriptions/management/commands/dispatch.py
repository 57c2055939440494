"""manage.py dispatch: consume the broker's work queue into the pipeline until SIGTERM/SIGINT (then exit 0)."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from eventhub import metrics
from eventhub.heap import freeze_startup_objects
from subscriptions.broker.dispatch import Dispatcher


class Command(BaseCommand):
    help = "Turn RabbitMQ messages of the tenants' sources into events (run one or several; they share one queue)."

    def add_arguments(self, parser):
        parser.add_argument("--queue", help="work queue (default: EVENTHUB WORK_QUEUE, eventhub.work)")
        parser.add_argument("--dead-exchange", help="exchange for unconvertible messages (default: EVENTHUB DEAD_EXCHANGE)")
        parser.add_argument("--dead-queue", help="queue keeping them (default: EVENTHUB DEAD_QUEUE)")
        parser.add_argument("--prefetch", type=int, help="unacknowledged messages held at most (default: EVENTHUB PREFETCH)")
        parser.add_argument("--batch-size", type=int, help="messages per transaction (default: EVENTHUB BATCH_SIZE)")
        parser.add_argument("--batch-ms", type=int, help="longest wait before a partial batch is committed (default: EVENTHUB BATCH_MS)")
        metrics.add_port_argument(parser)

    def handle(self, queue, dead_exchange, dead_queue, prefetch, batch_size, batch_ms, metrics_port, metrics_address, **options):
        if not settings.AMQP_URL:
            raise CommandError("AMQP_URL is not set (e.g. AMQP_URL=amqp://guest:guest@127.0.0.1:5672/).")
        for name, value in (("--prefetch", prefetch), ("--batch-size", batch_size), ("--batch-ms", batch_ms)):
            if value is not None and value < (0 if name == "--batch-ms" else 1):
                raise CommandError(f"{name} must be positive.")
        dispatcher = Dispatcher(
            queue=queue, dead_exchange=dead_exchange, dead_queue=dead_queue, prefetch=prefetch, batch_size=batch_size, batch_ms=batch_ms
        )
        if serving := metrics.serve_process_counters(metrics_port, metrics_address):
            self.stdout.write(f"dispatch: {serving}")
            self.stdout.flush()
        freeze_startup_objects()  # eventhub/heap.py: no full collection walks the loaded application again
        # Stop consuming, commit and acknowledge the current batch, close, exit 0.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: dispatcher.stop())
        dispatcher.run()

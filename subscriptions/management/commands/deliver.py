"""manage.py deliver: the delivery worker as its own process. Run several at once on PostgreSQL to scale out."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from eventhub import metrics
from eventhub.conf import hub_setting
from eventhub.heap import freeze_startup_objects
from subscriptions.delivery.worker import DeliveryWorker


class Command(BaseCommand):
    help = "Send due webhook deliveries until SIGTERM/SIGINT (finishes the requests in flight, then exits)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=hub_setting("DELIVERY_CONCURRENCY"), help="HTTP requests in flight at most")
        parser.add_argument("--batch", type=int, default=None,
                            help="deliveries claimed per database round trip (default: DELIVERY_BATCH, and at least twice --concurrency)")
        parser.add_argument("--per-endpoint", type=int, default=hub_setting("DELIVERY_ENDPOINT_CONCURRENCY"),
                            help="HTTP requests in flight to one endpoint at most (a slow receiver cannot take every slot)")
        metrics.add_port_argument(parser)

    def handle(self, concurrency, batch, per_endpoint, metrics_port, metrics_address, **options):
        if concurrency < 1 or (batch is not None and batch < 1) or per_endpoint < 1:
            self.stderr.write("--concurrency, --batch and --per-endpoint must be at least 1.")
            raise SystemExit(2)
        worker = DeliveryWorker(concurrency=concurrency, batch=batch, per_endpoint=per_endpoint)
        self.counters_at = metrics.serve_process_counters(metrics_port, metrics_address)
        freeze_startup_objects()  # eventhub/heap.py: no full collection walks the loaded application again
        asyncio.run(self._run(worker))
        self.stdout.write(f"deliver: stopped after {worker.sent_count} attempts")

    async def _run(self, worker):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        # Written once SIGTERM stops it cleanly: a supervisor (or a test) that sees this line may stop it any time.
        self.stdout.write(f"deliver: concurrency {worker.concurrency} ({worker.per_endpoint} per endpoint), batch {worker.batch}, "
                          f"polling every {worker.poll_seconds:g} s" + (f"; {self.counters_at}" if self.counters_at else ""))
        self.stdout.flush()
        await worker.run()

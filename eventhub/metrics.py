"""Prometheus metrics: pipeline counters fed by the pipeline's signals, and gauges read from the database at scrape.

Counters live in the process that does the work (the embedded default: the one web process, whose /metrics shows
them all). A scaled-out `deliver` or `dispatch` process serves its own counters with --metrics-port (PROCESS);
the database gauges (queue depth, oldest due delivery, dead letters) are the web processes' /metrics' (REGISTRY),
the same whichever one is scraped.
"""

from django.core.management.base import CommandError
from django.db.models import Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily

PROCESS = CollectorRegistry(auto_describe=True)  # this process' counters

EVENTS_RECORDED = Counter("eventhub_events_recorded", "Events stored, by how they came in.", ["origin"], registry=PROCESS)
DELIVERIES_CREATED = Counter("eventhub_deliveries_created", "Deliveries created for stored events.", registry=PROCESS)
DELIVERY_ATTEMPTS = Counter(
    "eventhub_delivery_attempts", "HTTP attempts of deliveries, by outcome (succeeded, retrying, failed).", ["outcome"], registry=PROCESS
)
DELIVERY_SECONDS = Histogram(
    "eventhub_delivery_attempt_seconds", "Duration of one delivery attempt, request to response.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=PROCESS,
)
ENDPOINTS_DISABLED = Counter("eventhub_endpoints_disabled", "Endpoints the hub disabled (410, failing too long).", registry=PROCESS)
DEAD_LETTERED = Counter("eventhub_dead_lettered", "Broker messages that could not become events.", registry=PROCESS)


class DatabaseCollector:
    """Gauges that only the database knows across all processes: what is waiting, and for how long."""

    def describe(self):
        # Names only: registering must not touch the database (it runs at start-up, maybe before migrate).
        yield GaugeMetricFamily("eventhub_deliveries_pending", "", labels=["due"])
        yield GaugeMetricFamily("eventhub_delivery_lag_seconds", "")
        yield GaugeMetricFamily("eventhub_dead_letters", "")

    def collect(self):
        from subscriptions.models import DeadLetter, Delivery, DeliveryStatus

        now = timezone.now()
        pending = Delivery.objects.filter(status=DeliveryStatus.PENDING)
        depth = GaugeMetricFamily("eventhub_deliveries_pending", "Deliveries waiting for a first try or a retry.", labels=["due"])
        depth.add_metric(["now"], pending.filter(next_attempt_at__lte=now).count())
        depth.add_metric(["later"], pending.filter(next_attempt_at__gt=now).count())
        yield depth
        oldest = pending.filter(next_attempt_at__lte=now).aggregate(oldest=Min("next_attempt_at"))["oldest"]
        lag = GaugeMetricFamily("eventhub_delivery_lag_seconds", "How long the oldest due delivery has been waiting.")
        lag.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield lag
        dead = GaugeMetricFamily("eventhub_dead_letters", "Dead-lettered broker messages kept, not yet re-driven.")
        dead.add_metric([], DeadLetter.objects.filter(redriven_at__isnull=True).count())
        yield dead


REGISTRY = CollectorRegistry(auto_describe=True)
REGISTRY.register(PROCESS)
REGISTRY.register(DatabaseCollector())


def render():
    return generate_latest(REGISTRY)


def add_port_argument(parser):
    """--metrics-port and --metrics-address for a worker command (deliver, dispatch)."""
    parser.add_argument("--metrics-port", type=int, help="serve this process' Prometheus counters over HTTP on this port "
                        "(GET /metrics; the database's gauges are the web server's /metrics)")
    parser.add_argument("--metrics-address", default="127.0.0.1", help="address the counters are served on (default "
                        "127.0.0.1; 0.0.0.0 in a container scraped from outside)")


def serve_process_counters(port: int | None, address: str) -> str:
    """Serve PROCESS on a daemon thread when a port is given (0: any free one); returns where, for the command's
    start-up line ("" when not serving)."""
    if port is None:
        return ""
    if not 0 <= port <= 65535:
        raise CommandError(f"--metrics-port must be between 0 and 65535, not {port}.")
    try:
        server, _ = start_http_server(port, addr=address, registry=PROCESS)
    except (OSError, ValueError) as exc:  # taken, or not an address of this machine
        raise CommandError(f"The counters cannot be served on {address}:{port}: {exc}") from exc
    return f"counters on http://{address}:{server.server_port}/metrics"


# --- signal receivers (connected in EventhubConfig.ready); they only bump counters, never block ---------


def on_events_recorded(sender, events, deliveries, **kwargs):
    for event in events:
        EVENTS_RECORDED.labels(event.origin).inc()
    DELIVERIES_CREATED.inc(deliveries)


def on_deliveries_attempted(sender, attempts, **kwargs):
    counts: dict[str, int] = {}
    for attempt in attempts:
        counts[attempt.outcome] = counts.get(attempt.outcome, 0) + 1
        if attempt.duration_ms is not None:
            DELIVERY_SECONDS.observe(attempt.duration_ms / 1000)
    for outcome, count in counts.items():
        DELIVERY_ATTEMPTS.labels(outcome).inc(count)


def on_endpoint_disabled(sender, **kwargs):
    ENDPOINTS_DISABLED.inc()


def on_dead_lettered(sender, **kwargs):
    DEAD_LETTERED.inc()


def connect():
    from subscriptions import signals

    signals.events_recorded.connect(on_events_recorded, dispatch_uid="metrics.events_recorded")
    signals.deliveries_attempted.connect(on_deliveries_attempted, dispatch_uid="metrics.deliveries_attempted")
    signals.endpoint_disabled.connect(on_endpoint_disabled, dispatch_uid="metrics.endpoint_disabled")
    signals.message_dead_lettered.connect(on_dead_lettered, dispatch_uid="metrics.dead_lettered")

"""Prometheus metrics: pipeline counters fed by the pipeline's signals, and gauges read from the database at scrape.

Counters live in the process that does the work (the embedded default: the one web process). A scaled-out
`deliver` or `dispatch` process exposes its own with --metrics-port; the database gauges (queue depth, oldest due
delivery, dead letters) are the same whichever web process is scraped.
"""

from django.db.models import Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_RECORDED = Counter("eventhub_events_recorded", "Events stored, by how they came in.", ["origin"], registry=REGISTRY)
DELIVERIES_CREATED = Counter("eventhub_deliveries_created", "Deliveries created for stored events.", registry=REGISTRY)
DELIVERY_ATTEMPTS = Counter(
    "eventhub_delivery_attempts", "HTTP attempts of deliveries, by outcome (succeeded, retrying, failed).", ["outcome"], registry=REGISTRY
)
DELIVERY_SECONDS = Histogram(
    "eventhub_delivery_attempt_seconds", "Duration of one delivery attempt, request to response.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=REGISTRY,
)
ENDPOINTS_DISABLED = Counter("eventhub_endpoints_disabled", "Endpoints the hub disabled (410, failing too long).", registry=REGISTRY)
DEAD_LETTERED = Counter("eventhub_dead_lettered", "Broker messages that could not become events.", registry=REGISTRY)


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


REGISTRY.register(DatabaseCollector())


def render():
    return generate_latest(REGISTRY)


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

"""Reads the dashboard shows: traffic per minute, success rates (retrying failures count), endpoint health. Aggregated in the database."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncMinute
from django.utils import timezone

from subscriptions.emporix.limits import limit_state
from subscriptions.models import DeadLetter, Delivery, DeliveryStatus, Endpoint, Event

CHART_MINUTES = 60
HEALTH_WINDOW = timedelta(hours=24)

# A pending delivery that has been tried is failing and retrying: it counts against the success rate and is listed
# with the failures, not hidden among the deliveries that are merely queued.
RETRYING = Q(status=DeliveryStatus.PENDING, attempt_count__gt=0)
FAILING = Q(status=DeliveryStatus.FAILED) | RETRYING
QUEUED = Q(status=DeliveryStatus.PENDING, attempt_count=0)

# The deliveries list's status filter: the stored statuses plus the two views the overview links to.
STATUS_FILTERS = {
    DeliveryStatus.PENDING.value: Q(status=DeliveryStatus.PENDING),
    DeliveryStatus.SUCCEEDED.value: Q(status=DeliveryStatus.SUCCEEDED),
    DeliveryStatus.FAILED.value: Q(status=DeliveryStatus.FAILED),
    "retrying": RETRYING,
    "failing": FAILING,
    "queued": QUEUED,
}
STATUS_CHOICES = [
    ("", "any status"), ("succeeded", "succeeded"), ("failing", "failing (failed or retrying)"), ("retrying", "retrying"),
    ("failed", "failed"), ("pending", "pending (queued or retrying)"), ("queued", "queued, not tried yet"),
]

# The chart's drawing box (SVG user units); axis labels sit in the margins.
PLOT_LEFT, PLOT_TOP, PLOT_WIDTH, PLOT_HEIGHT = 40, 8, 600, 120
CHART_WIDTH, CHART_HEIGHT = PLOT_LEFT + PLOT_WIDTH + 8, PLOT_TOP + PLOT_HEIGHT + 22


def nice_ceiling(value):
    """The smallest of 1, 2, 5, 10, 20, 50, ... at least `value` (and at least 2, so the mid tick is whole)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= max(value, 2):
                return step * factor
        step *= 10


@dataclass
class Series:
    """Counts per minute of the last hour in stacked layers [(name, counts)], with what the server-drawn SVG needs."""

    label: str
    layers: list
    start: object

    @property
    def counts(self):
        return [sum(values) for values in zip(*(counts for _, counts in self.layers))]

    @property
    def total(self):
        return sum(self.counts)

    def layer_total(self, name):
        return sum(next(counts for n, counts in self.layers if n == name))

    @property
    def peak(self):
        return max(self.counts, default=0)

    @property
    def scale(self):
        return nice_ceiling(self.peak)

    @property
    def y_ticks(self):
        top = self.scale
        return [{"value": v, "y": round(PLOT_TOP + PLOT_HEIGHT - v / top * PLOT_HEIGHT, 1)} for v in (0, top // 2, top)]

    @property
    def x_ticks(self):
        width = PLOT_WIDTH / CHART_MINUTES
        return [{"x": round(PLOT_LEFT + i * width, 1), "minute": self.start + timedelta(minutes=i)} for i in (0, 15, 30, 45, 59)]

    @property
    def columns(self):
        """One column per minute: its stacked segments bottom-up, and the minute's window for the link to its list."""
        width = PLOT_WIDTH / CHART_MINUTES
        top = self.scale
        columns = []
        for i in range(CHART_MINUTES):
            base = PLOT_TOP + PLOT_HEIGHT
            segments = []
            for name, counts in self.layers:
                if counts[i]:
                    height = round(counts[i] / top * PLOT_HEIGHT, 1)
                    base -= height
                    segments.append({"name": name, "count": counts[i], "y": round(base, 1), "h": height})
            minute = self.start + timedelta(minutes=i)
            columns.append({"x": round(PLOT_LEFT + i * width + .5, 1), "w": round(width - 1.5, 1), "minute": minute,
                            "until": minute + timedelta(seconds=59), "segments": segments, "count": self.counts[i]})
        return columns

    @property
    def box(self):
        return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "left": PLOT_LEFT, "right": PLOT_LEFT + PLOT_WIDTH,
                "top": PLOT_TOP, "bottom": PLOT_TOP + PLOT_HEIGHT, "label_y": PLOT_TOP + PLOT_HEIGHT + 16}


def minute_counts(queryset, time_field, start):
    rows = (
        queryset.filter(**{f"{time_field}__gte": start})
        .annotate(minute=TruncMinute(time_field))
        .values("minute")
        .annotate(n=Count("id"))
    )
    counts = [0] * CHART_MINUTES
    for row in rows:
        index = int((row["minute"] - start).total_seconds() // 60)
        if 0 <= index < CHART_MINUTES:
            counts[index] += row["n"]
    return counts


def chart_start(now):
    return (now - timedelta(minutes=CHART_MINUTES - 1)).replace(second=0, microsecond=0)


def per_minute(queryset, time_field, label, now):
    start = chart_start(now)
    return Series(label, [(label.lower(), minute_counts(queryset, time_field, start))], start)


def deliveries_per_minute(deliveries, now):
    """Deliveries per minute stacked by outcome: succeeded, failing (failed or retrying), queued (not tried yet)."""
    start = chart_start(now)
    layers = [(name, minute_counts(deliveries.filter(condition), "created_at", start))
              for name, condition in (("succeeded", Q(status=DeliveryStatus.SUCCEEDED)), ("failing", FAILING), ("queued", QUEUED))]
    return Series("Deliveries", layers, start)


@dataclass
class SuccessRate:
    succeeded: int
    failed: int
    retrying: int

    @property
    def tried(self):
        return self.succeeded + self.failed + self.retrying

    @property
    def failing(self):
        return self.failed + self.retrying

    @property
    def rate(self):
        return None if self.tried == 0 else self.succeeded / self.tried


def success_rate(deliveries):
    """Succeeded among the deliveries that were tried: a failing delivery still retrying counts as not (yet) succeeded."""
    tally = deliveries.aggregate(
        ok=Count("id", filter=Q(status=DeliveryStatus.SUCCEEDED)), failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
        retrying=Count("id", filter=RETRYING),
    )
    return SuccessRate(tally["ok"], tally["failed"], tally["retrying"])


def overview(tenant, now=None):
    now = now or timezone.now()
    # The hour the charts draw, from a whole minute, so the lists the figures link to (filtered by minute) count the same.
    hour_ago = chart_start(now)
    deliveries = Delivery.objects.filter(tenant=tenant)
    return {
        "since": hour_ago,
        "events": per_minute(Event.objects.filter(tenant=tenant), "received_at", "Events", now),
        "deliveries": deliveries_per_minute(deliveries, now),
        "success": success_rate(deliveries.filter(created_at__gte=hour_ago)),
        "retrying": deliveries.filter(RETRYING).count(),
        "queued": deliveries.filter(QUEUED).count(),
        "failing_endpoints": [h for h in endpoint_health(Endpoint.objects.filter(tenant=tenant), now) if h.failing],
        "dead_letters": DeadLetter.objects.filter(tenant=tenant, redriven_at__isnull=True).count(),
        "dead_letters_last_hour": DeadLetter.objects.filter(tenant=tenant, received_at__gte=hour_ago).count(),
        "webhooks_limit": limit_state(tenant, now),
    }


@dataclass
class EndpointHealth:
    endpoint: Endpoint
    success_rate: float | None
    finished: int
    last_error: str
    last_error_at: object

    @property
    def failing(self):
        return bool(self.endpoint.failing_since) or not self.endpoint.enabled and bool(self.endpoint.disabled_reason) or (
            self.success_rate is not None and self.success_rate < 0.9
        )


def endpoint_health(endpoints, now=None):
    """[EndpointHealth] over the last 24 hours, in two queries whatever the number of endpoints."""
    now = now or timezone.now()
    latest_error = Delivery.objects.filter(endpoint=OuterRef("pk")).exclude(last_error="").order_by("-created_at", "-id")
    endpoints = list(
        endpoints.annotate(
            latest_error=Subquery(latest_error.values("last_error")[:1]),
            latest_error_at=Subquery(latest_error.values("created_at")[:1]),
        )
    )
    tallies = {
        row["endpoint"]: row
        for row in Delivery.objects.filter(endpoint__in=[e.pk for e in endpoints], created_at__gte=now - HEALTH_WINDOW)
        .values("endpoint")
        .annotate(ok=Count("id", filter=Q(status=DeliveryStatus.SUCCEEDED)), failed=Count("id", filter=FAILING))
    }
    result = []
    for endpoint in endpoints:
        tally = tallies.get(endpoint.pk, {"ok": 0, "failed": 0})
        finished = tally["ok"] + tally["failed"]
        result.append(EndpointHealth(endpoint, tally["ok"] / finished if finished else None, finished,
                                     endpoint.latest_error or "", endpoint.latest_error_at))
    return result

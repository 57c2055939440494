"""Reads the dashboard shows: traffic per minute, success rates, endpoint health. Aggregated in the database."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncMinute
from django.utils import timezone

from subscriptions.models import DeadLetter, Delivery, DeliveryStatus, Endpoint, Event

CHART_MINUTES = 60
CHART_WIDTH, CHART_HEIGHT = 600, 120
HEALTH_WINDOW = timedelta(hours=24)


@dataclass
class Series:
    """Counts per minute of the last hour, with what the inline SVG needs to draw them."""

    label: str
    counts: list
    start: object

    @property
    def total(self):
        return sum(self.counts)

    @property
    def per_second(self):
        return self.total / (CHART_MINUTES * 60)

    @property
    def peak(self):
        return max(self.counts, default=0)

    @property
    def bars(self):
        scale = max(self.peak, 1)
        width = CHART_WIDTH / CHART_MINUTES
        bars = []
        for i, count in enumerate(self.counts):
            height = round(count / scale * (CHART_HEIGHT - 4), 1)
            bars.append({"x": round(i * width, 1), "y": round(CHART_HEIGHT - height, 1), "w": round(width - 1.5, 1),
                         "h": height, "count": count, "minute": self.start + timedelta(minutes=i)})
        return bars


def per_minute(queryset, time_field, label, now):
    start = (now - timedelta(minutes=CHART_MINUTES - 1)).replace(second=0, microsecond=0)
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
    return Series(label, counts, start)


def success_rate(deliveries):
    """Share of finished deliveries that succeeded, or None when none finished."""
    tally = deliveries.aggregate(
        ok=Count("id", filter=Q(status=DeliveryStatus.SUCCEEDED)), failed=Count("id", filter=Q(status=DeliveryStatus.FAILED))
    )
    finished = tally["ok"] + tally["failed"]
    return None if finished == 0 else tally["ok"] / finished


def overview(tenant, now=None):
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    deliveries = Delivery.objects.filter(tenant=tenant)
    return {
        "events": per_minute(Event.objects.filter(tenant=tenant), "received_at", "Events", now),
        "deliveries": per_minute(deliveries, "created_at", "Deliveries", now),
        "success_rate": success_rate(deliveries.filter(created_at__gte=hour_ago)),
        "pending": deliveries.filter(status=DeliveryStatus.PENDING).count(),
        "failing_endpoints": [h for h in endpoint_health(Endpoint.objects.filter(tenant=tenant), now) if h.failing],
        "dead_letters": DeadLetter.objects.filter(tenant=tenant, redriven_at__isnull=True).count(),
        "dead_letters_last_hour": DeadLetter.objects.filter(tenant=tenant, received_at__gte=hour_ago).count(),
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
        .annotate(ok=Count("id", filter=Q(status=DeliveryStatus.SUCCEEDED)), failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)))
    }
    result = []
    for endpoint in endpoints:
        tally = tallies.get(endpoint.pk, {"ok": 0, "failed": 0})
        finished = tally["ok"] + tally["failed"]
        result.append(EndpointHealth(endpoint, tally["ok"] / finished if finished else None, finished,
                                     endpoint.latest_error or "", endpoint.latest_error_at))
    return result

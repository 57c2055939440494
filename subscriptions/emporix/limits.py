"""A tenant's monthly webhooks limit (Emporix's webhooksLimit, Tenant.webhooks_limit) and the monthly statistics.

The limit counts the deliveries made for the tenant in the calendar month (UTC). Past it, events are still stored
and routed, but their new deliveries are recorded as failed, saying why, and never sent (a manual retry sends one).
Recording calls hold_over_limit() once per batch that makes deliveries: a lookup in an in-process copy of the limits
(read again after LIMIT_TTL seconds, dropped in this process when a tenant is saved), so a tenant without a limit
costs no query; with a limit, one indexed count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from django.db.models import Count
from django.db.models.functions import TruncMonth

from subscriptions.models import Delivery, DeliveryStatus
from tenants.models import Tenant

__all__ = ["LIMIT_ERROR", "LIMIT_TTL", "LimitState", "connect", "current_limit", "add_months", "hold_over_limit", "limit_state", "month_start", "monthly_usage",
           "sent_per_month"]

LIMIT_ERROR = ("Not sent: the tenant's monthly webhooks limit ({limit}) was reached; the event is stored. "
               "The limit resets on the first day of the month (UTC); a retry sends it anyway.")


LIMIT_TTL = 5.0  # seconds a process keeps a tenant's limit: another process's change takes effect within it
_limits: dict[int, tuple[float, int | None]] = {}  # tenant id -> (read again after, limit)


def current_limit(tenant_id: int) -> int | None:
    """The tenant's webhooks limit as of at most LIMIT_TTL seconds ago (a dispatcher's tenants live for long)."""
    now = time.monotonic()
    cached = _limits.get(tenant_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    limit = Tenant.objects.filter(pk=tenant_id).values_list("webhooks_limit", flat=True).first()
    _limits[tenant_id] = (now + LIMIT_TTL, limit)
    return limit


def _forget(sender, instance, **kwargs):
    _limits.pop(instance.pk, None)


def connect():
    """A tenant saved in this process is read again at its next batch (subscriptions.apps)."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_forget, sender=Tenant, dispatch_uid="emporix.limits.forget")
    post_delete.connect(_forget, sender=Tenant, dispatch_uid="emporix.limits.forget.delete")


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def monthly_usage(tenant, now: datetime) -> int:
    """Deliveries made for the tenant this month."""
    return Delivery.objects.filter(tenant_id=tenant.pk, created_at__gte=month_start(now)).count()


@dataclass(frozen=True)
class LimitState:
    limit: int
    used: int  # deliveries made this month, those held past the limit included

    @property
    def reached(self) -> bool:
        return self.used >= self.limit


def limit_state(tenant, now: datetime) -> LimitState | None:
    """Where the tenant stands with its monthly limit (the dashboard's overview says it); None without a limit."""
    if tenant.webhooks_limit is None:
        return None
    return LimitState(tenant.webhooks_limit, monthly_usage(tenant, now))


def hold_over_limit(tenant, rows: list[tuple], now: datetime) -> list[tuple]:
    """The new delivery `rows` (tuples of recording.DELIVERY_COLUMNS), those pending beyond the tenant's monthly limit
    made failed, not to be sent, saying why."""
    if not rows:
        return rows
    limit = current_limit(tenant.pk)
    if limit is None:
        return rows
    from subscriptions.pipeline.recording import DELIVERY_COLUMNS  # here: recording calls this

    at = {name: index for index, name in enumerate(DELIVERY_COLUMNS)}
    held = {"status": DeliveryStatus.FAILED.value, "next_attempt_at": None, "finished_at": now, "last_error": LIMIT_ERROR.format(limit=limit)}
    allowed = max(0, limit - monthly_usage(tenant, now))
    result = []
    for row in rows:
        if row[at["status"]] == DeliveryStatus.PENDING:
            if allowed > 0:
                allowed -= 1
            else:
                row = tuple(held.get(name, value) for name, value in zip(DELIVERY_COLUMNS, row))
        result.append(row)
    return result


def sent_per_month(tenant, first: datetime, last: datetime) -> list[dict]:
    """Emporix's monthStatistics from the first month to the last (month starts, UTC), newest first: the
    deliveries that succeeded in each month (as long as the delivery log keeps them: RETENTION_DAYS)."""
    rows = (
        Delivery.objects.filter(tenant_id=tenant.pk, status=DeliveryStatus.SUCCEEDED,
                                finished_at__gte=first, finished_at__lt=add_months(last, 1))
        .annotate(month=TruncMonth("finished_at", tzinfo=timezone.utc)).values("month").annotate(sent=Count("id"))
    )
    counts = {row["month"].strftime("%Y-%m"): row["sent"] for row in rows}
    months, month = [], last
    while month >= first:
        key = month.strftime("%Y-%m")
        months.append({"statisticsMonth": key, "succesfullySentWebhooks": counts.get(key, 0)})  # sic: Emporix's spelling
        month = add_months(month, -1)
    return months

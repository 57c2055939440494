"""Webhook statistics: /webhook/{tenant}/statistics, as Emporix's webhook service answers it (WebhookStatistics)."""

import re
from datetime import datetime, timezone

from django.utils import timezone as django_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.emporix import limits
from subscriptions.emporix.limits import add_months, month_start

YEAR_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DEFAULT_MONTHS = 12  # without fromYearMonth: this many months up to toYearMonth
MAX_MONTHS = 120

Statistics = inline_serializer("WebhookStatistics", {
    "monthStatistics": inline_serializer("MonthStatistics", {
        "statisticsMonth": serializers.CharField(help_text="YYYY-MM"),
        "succesfullySentWebhooks": serializers.IntegerField(help_text="Deliveries that succeeded in the month (UTC)."),
    }, many=True),
    "webhooksLimit": serializers.IntegerField(required=False, help_text="The tenant's monthly limit; absent: none."),
})


def year_month(request, name, default):
    text = request.query_params.get(name)
    if text is None:
        return default
    match = YEAR_MONTH.match(text)
    if not match or int(match.group(1)) < 1:
        raise ValidationError({name: ["Must be a month as YYYY-MM, e.g. 2026-01."]})
    return datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=timezone.utc)


class StatisticsView(TenantAPIView):
    required_scopes = {"GET": "webhook.subscription_read"}

    @extend_schema(
        operation_id="GET-webhook-retrieve-statistics",
        summary="Webhooks sent per month and the tenant's monthly webhooks limit (Emporix's statistics)",
        parameters=[OpenApiParameter("fromYearMonth", OpenApiTypes.STR, description="YYYY-MM; default: 11 months before toYearMonth"),
                    OpenApiParameter("toYearMonth", OpenApiTypes.STR, description="YYYY-MM; default: this month")],
        responses={200: Statistics, **ERRORS},
    )
    def get(self, request, tenant):
        last = year_month(request, "toYearMonth", month_start(django_timezone.now()))
        first = year_month(request, "fromYearMonth", add_months(last, 1 - DEFAULT_MONTHS) if last.year > 1 else last)
        if first > last:
            raise ValidationError({"fromYearMonth": ["Must not be after toYearMonth."]})
        if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
            raise ValidationError({"fromYearMonth": [f"At most {MAX_MONTHS} months at once."]})
        body = {"monthStatistics": limits.sent_per_month(self.tenant, first, last)}
        if self.tenant.webhooks_limit is not None:  # the tenant was read with the token, in this request
            body["webhooksLimit"] = self.tenant.webhooks_limit
        return Response(body)

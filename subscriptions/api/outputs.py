"""Output serializers: the one description of each response shape, used both to render it and for the OpenAPI schema.

Keys keep the wire spelling (camelCase) and their order; times are ISO 8601 UTC with milliseconds (eventhub.api.iso_ms).
A delivery renders in full (its body, every attempt's headers and response) only with context {"full": True}; the
endpoint's own header values show only with context {"header_values": True} (see endpoints.shows_header_values).
"""

import json

from rest_framework import serializers

from eventhub.api import iso_ms
from subscriptions.api.endpoints import MANAGE_SCOPE
from subscriptions.delivery.actions import masked_request_headers
from subscriptions.models import DeliveryStatus

class IsoMsField(serializers.DateTimeField):
    """A datetime as the hub writes every time: 2026-01-31T12:00:00.000Z."""

    def to_representation(self, value):
        return iso_ms(value)


class DeliverySummarySerializer(serializers.Serializer):
    id = serializers.CharField(source="pk")
    endpoint = serializers.CharField(source="endpoint_id", allow_null=True)
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.values)
    attemptCount = serializers.IntegerField(source="attempt_count")
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    nextAttemptAt = serializers.SerializerMethodField()

    def get_nextAttemptAt(self, delivery) -> str | None:  # noqa: N802 (the wire name)
        if delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at is None:
            return None
        return iso_ms(delivery.next_attempt_at)


class AttemptSerializer(serializers.Serializer):
    startedAt = IsoMsField(source="started_at")
    durationMs = serializers.FloatField(source="duration_ms")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    error = serializers.CharField()
    requestHeaders = serializers.DictField(source="request_headers", required=False, child=serializers.CharField(allow_null=True), help_text=(
        "As sent. The values of the endpoint's own headers are null unless the token has "
        f"{MANAGE_SCOPE}; those the hub sets (webhook-*, its Content-Type and User-Agent) are always given."))
    responseHeaders = serializers.DictField(source="response_headers", required=False)
    responseBody = serializers.CharField(source="response_body", required=False)

    FULL_ONLY = ("requestHeaders", "responseHeaders", "responseBody")

    def to_representation(self, attempt):
        body = super().to_representation(attempt)
        if not self.context.get("full"):
            for name in self.FULL_ONLY:
                body.pop(name)
        elif not self.context.get("header_values"):
            body["requestHeaders"] = masked_request_headers(attempt.request_headers)
        return body


class EventRefSerializer(serializers.Serializer):
    id = serializers.CharField(source="event.event_id")
    type = serializers.CharField(source="event_type")
    timestamp = IsoMsField(source="event.timestamp")


class DeliverySerializer(DeliverySummarySerializer):
    event = EventRefSerializer(source="*")
    webhookId = serializers.CharField(source="webhook_id")
    createdAt = IsoMsField(source="created_at")
    finishedAt = IsoMsField(source="finished_at", allow_null=True)
    attempts = AttemptSerializer(source="attempts.all", many=True)
    body = serializers.JSONField(required=False, help_text="The body sent (in full views only).")

    def to_representation(self, delivery):
        body = super().to_representation(delivery)
        if self.context.get("full"):
            try:
                body["body"] = json.loads(delivery.body)
            except ValueError:
                body["body"] = delivery.body
        else:
            body.pop("body")
        return body


class EventSerializer(serializers.Serializer):
    id = serializers.CharField(source="event_id")
    type = serializers.CharField()
    timestamp = IsoMsField()
    receivedAt = IsoMsField(source="received_at")
    origin = serializers.CharField()
    data = serializers.DictField()
    deliveries = DeliverySummarySerializer(source="deliveries.all", many=True)


class DeadLetterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sourceId = serializers.CharField(source="source_id", allow_null=True)
    exchange = serializers.CharField()
    routingKey = serializers.CharField(source="routing_key")
    properties = serializers.DictField()
    body = serializers.CharField()
    bodySize = serializers.IntegerField(source="body_size")
    reason = serializers.CharField()
    receivedAt = IsoMsField(source="received_at")
    redrivenAt = IsoMsField(source="redriven_at", allow_null=True)

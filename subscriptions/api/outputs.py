"""Output serializers: the one description of each response shape, used both to render it and for the OpenAPI schema.

Keys keep the wire spelling (camelCase) and their order; times are ISO 8601 UTC with milliseconds (eventhub.api.iso_ms).
A delivery renders in full (its body, every attempt's headers and response) only with context {"full": True}; an
endpoint's own header values (on the endpoint, an attempt, a preview) show only with context {"header_values": True}
(shows_header_values); the catalog's and the event subscriptions' shapes are in api/catalog_outputs.py.
"""

import json

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from eventhub.api import iso_ms
from eventhub.languages import localize
from subscriptions.api.serializers import ORDERING_HELP, PAYLOAD_FORMAT_HELP, OrderingField
from subscriptions.core.payloads import FORMATS
from subscriptions.delivery.actions import (
    PREVIEW_SECRET, PREVIEW_SIGNED_WITH, masked_headers, masked_request_headers,
)
from subscriptions.models import CircuitState, DeliveryStatus, Source

MANAGE_SCOPE = "webhook.endpoint_manage"


def shows_header_values(request):
    """Header values are often a receiver's credentials (Authorization: Bearer ...): only a token that may change
    the endpoint sees them; others get the names with null values (delivery.actions.masked_headers)."""
    return MANAGE_SCOPE in request.user.scopes


class IsoMsField(serializers.DateTimeField):
    """A datetime as the hub writes every time: 2026-01-31T12:00:00.000Z."""

    def to_representation(self, value):
        return iso_ms(value)


@extend_schema_field({"type": "string", "nullable": True})
class BlankAsNullField(serializers.CharField):
    """A text the model keeps as "" when there is none, answered as null."""

    def to_representation(self, value):
        return value or None


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class LocalizedField(serializers.Field):
    """{language: text} reduced to the language the request prefers (context "preferences", "fallbacks")."""

    def to_representation(self, value):
        return localize(value, self.context["preferences"], self.context["fallbacks"])


class MetadataSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    createdAt = IsoMsField(source="created_at")
    modifiedAt = IsoMsField(source="modified_at")


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


# --- endpoints and sources ------------------------------------------------------------------------


class CircuitSerializer(serializers.Serializer):
    """The endpoint's circuit breaker: closed (deliveries go), open (they wait: the endpoint failed too many times in a
    row; one probe goes at `until`), half-open (the probe is in flight, until `until` at the latest)."""

    state = serializers.ChoiceField(source="circuit_state", choices=CircuitState.values)
    since = IsoMsField(source="circuit_since", allow_null=True, help_text="When it last opened or closed.")
    until = IsoMsField(source="circuit_until", allow_null=True)
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures")


class EndpointOutputSerializer(serializers.Serializer):
    """A webhook endpoint as answers give it."""

    # The docstrings and help texts of these classes are the schema's: written for the API's users.
    # `secret` renders from context {"secret": ...}, given only by create and rotate-secret.

    id = serializers.UUIDField()
    url = serializers.CharField()
    method = serializers.ChoiceField(choices=["POST", "PUT", "PATCH"])
    headers = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True),
        help_text="Extra request headers, name: value. The values (often a receiver's credentials) are given only to "
                  f"tokens with the {MANAGE_SCOPE} scope; for other tokens every value is null.",
    )
    events = serializers.ListField(child=serializers.CharField())
    eventFilter = serializers.JSONField(source="event_filter", allow_null=True)
    customPayload = serializers.JSONField(source="custom_payload", allow_null=True)
    excludedFields = serializers.ListField(
        source="excluded_fields", child=serializers.CharField(), allow_null=True,
        help_text="Data fields this endpoint never gets instead of the subscription's excludedFields; null: the "
                  "subscription's. Set by an Emporix configuration entry (/webhook/{tenant}/config).",
    )
    payloadFormat = serializers.ChoiceField(source="payload_format", choices=list(FORMATS), help_text=PAYLOAD_FORMAT_HELP)
    ordering = OrderingField(allow_null=True, help_text=ORDERING_HELP)
    enabled = serializers.BooleanField()
    disabledReason = serializers.CharField(source="disabled_reason")
    description = serializers.CharField()
    timeoutSeconds = serializers.IntegerField(source="timeout_seconds")
    rateLimit = serializers.IntegerField(source="rate_limit", allow_null=True,
                                         help_text="At most this many deliveries a second; null: unlimited.")
    retrySchedule = serializers.ListField(source="retry_schedule", child=serializers.IntegerField(), allow_null=True,
                                          help_text="Seconds before each retry; null: the hub's schedule.")
    circuit = CircuitSerializer(source="*")
    metadata = MetadataSerializer(source="*")
    secret = serializers.CharField(required=False, help_text="The signing secret: in this answer only.")

    def to_representation(self, endpoint):
        body = super().to_representation(endpoint)
        if not self.context.get("header_values"):
            body["headers"] = masked_headers(endpoint.headers)
        if self.context.get("secret") is not None:
            body["secret"] = self.context["secret"]
        return body


@extend_schema_serializer(component_name="Source")
class SourceOutputSerializer(serializers.Serializer):
    """A broker source as answers give it."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    exchange = serializers.CharField()
    exchangeType = serializers.CharField(source="exchange_type")
    bindingKeys = serializers.ListField(source="binding_keys", child=serializers.CharField())
    typeFrom = serializers.ChoiceField(source="type_from", choices=Source.TypeFrom.values)
    typeField = serializers.CharField(source="type_field")
    catchAllType = serializers.CharField(source="catch_all_type")
    enabled = serializers.BooleanField()
    description = serializers.CharField()
    metadata = MetadataSerializer(source="*")


# --- what actions answer ----------------------------------------------------------------------------


class JSONTextField(serializers.JSONField):
    """JSON kept as text (a body as sent), answered as the value it holds."""

    def to_representation(self, value):
        return json.loads(value)


class DeliveryPreviewSerializer(serializers.Serializer):
    """Would the endpoint get the event, why not, and what exactly it would be sent."""

    # Renders a delivery.actions.Preview.

    matches = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    body = JSONTextField()
    headers = serializers.DictField(child=serializers.CharField(allow_null=True), help_text=(
        "The request headers. webhook-signature is made with the placeholder secret, never the endpoint's; the "
        f"values of the endpoint's own headers are null unless the token has {MANAGE_SCOPE}."))
    signedWith = serializers.ChoiceField(source="signed_with", choices=[PREVIEW_SIGNED_WITH], help_text=(
        "Always \"placeholder\": the signature verifies with placeholderSecret only."))
    placeholderSecret = serializers.SerializerMethodField(
        help_text="The published placeholder secret the preview is signed with.")
    changed = serializers.ListField(source="envelope.changed", child=serializers.CharField(), required=False, help_text=(
        "For update events whose type declares a change pair: the paths whose values differ between new and old."))

    def get_placeholderSecret(self, preview) -> str:  # noqa: N802 (the wire name)
        return PREVIEW_SECRET

    def to_representation(self, preview):
        body = super().to_representation(preview)
        if not self.context.get("header_values"):
            body["headers"] = masked_request_headers(preview.headers)
        return body


class ReplayResultSerializer(serializers.Serializer):
    deliveries = serializers.IntegerField(help_text="How many deliveries were queued again.")


class RedriveResultSerializer(serializers.Serializer):
    """What converting a dead letter again recorded."""

    # Renders a pipeline.recording.Recorded, with context {"dead_letter": ...}.

    eventId = serializers.CharField(source="event_id")
    created = serializers.BooleanField(help_text="False: an event with this id was stored before.")
    deliveries = serializers.IntegerField()
    deadLetter = serializers.SerializerMethodField()

    @extend_schema_field(DeadLetterSerializer)
    def get_deadLetter(self, recorded):  # noqa: N802 (the wire name)
        return DeadLetterSerializer(self.context["dead_letter"]).data

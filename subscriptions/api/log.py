"""HTTP ingest and the event and delivery log: /webhook/{tenant}/events and /webhook/{tenant}/deliveries."""

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from eventhub.api import NotADateTime, error_response, iso_ms, utc_datetime
from subscriptions import deliveries as delivery_services
from subscriptions import selectors
from subscriptions.api.endpoints import MANAGE_SCOPE, EndpointContextMixin, shows_header_values
from subscriptions.api.serializers import ErrorSerializer
from subscriptions.api.views import TenantAPIView
from subscriptions.ingest import IngestError, parse_events
from subscriptions.models import Delivery, DeliveryStatus
from subscriptions.pipeline import record_events
from subscriptions.worker import wake_workers

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
NOT_FOUND = {404: ErrorSerializer}
MAX_PAGE_SIZE = 200
PAGE_PARAMETERS = [
    OpenApiParameter("pageNumber", OpenApiTypes.INT, description="1-based page number (default 1)"),
    OpenApiParameter("pageSize", OpenApiTypes.INT, description=f"items per page (default 50, at most {MAX_PAGE_SIZE})"),
]


def page(request, queryset):
    """pageNumber/pageSize (as the Emporix APIs page); the bound keeps every answer small."""
    values = {}
    for name, default, upper in (("pageNumber", 1, 10_000), ("pageSize", 50, MAX_PAGE_SIZE)):
        raw = request.query_params.get(name, str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= upper:
            raise ValidationError({name: [f"Must be a whole number from 1 to {upper}."]})
        values[name] = int(raw)
    start = (values["pageNumber"] - 1) * values["pageSize"]
    return list(queryset[start : start + values["pageSize"]])


def datetime_param(request, name, required=False):
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise ValidationError({name: ["Required: an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z."]})
        return None
    try:
        return utc_datetime(raw.replace(" ", "+"))  # a '+' left unencoded in a query string arrives as a space
    except NotADateTime as exc:
        raise ValidationError({name: [str(exc)]})


def _optional(value, render):
    return render(value) if value is not None else None


def delivery_summary(delivery):
    return {
        "id": str(delivery.pk),
        "endpoint": _optional(delivery.endpoint_id, str),
        "url": delivery.url,
        "status": delivery.status,
        "attemptCount": delivery.attempt_count,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "nextAttemptAt": _optional(delivery.next_attempt_at, iso_ms) if delivery.status == DeliveryStatus.PENDING else None,
    }


def attempt_body(attempt, full=False, header_values=False):
    body = {
        "startedAt": iso_ms(attempt.started_at),
        "durationMs": attempt.duration_ms,
        "statusCode": attempt.status_code,
        "error": attempt.error,
    }
    if full:
        sent = attempt.request_headers if header_values else delivery_services.masked_request_headers(attempt.request_headers)
        body.update(requestHeaders=sent, responseHeaders=attempt.response_headers, responseBody=attempt.response_body)
    return body


def delivery_body(delivery, full=False, header_values=False):
    """`header_values`: the endpoint's own request headers with their values (else null): for shows_header_values."""
    body = {
        **delivery_summary(delivery),
        "event": {"id": delivery.event.event_id, "type": delivery.event_type, "timestamp": iso_ms(delivery.event.timestamp)},
        "webhookId": delivery.webhook_id,
        "createdAt": iso_ms(delivery.created_at),
        "finishedAt": _optional(delivery.finished_at, iso_ms),
        "attempts": [attempt_body(a, full, header_values) for a in delivery.attempts.all()],
    }
    if full:
        try:
            body["body"] = json.loads(delivery.body)
        except ValueError:
            body["body"] = delivery.body
    return body


def event_body(event):
    return {
        "id": event.event_id,
        "type": event.type,
        "timestamp": iso_ms(event.timestamp),
        "receivedAt": iso_ms(event.received_at),
        "origin": event.origin,
        "data": event.data,
        "deliveries": [delivery_summary(d) for d in event.deliveries.all()],
    }


EventInput = inline_serializer(
    "IngestEvent",
    {"type": serializers.CharField(), "id": serializers.CharField(required=False, max_length=200),
     "timestamp": serializers.DateTimeField(required=False), "data": serializers.DictField()},
)
IngestResult = inline_serializer("IngestResult", {"id": serializers.CharField(), "created": serializers.BooleanField(), "deliveries": serializers.IntegerField()})
DeliverySummary = inline_serializer("DeliverySummary", {
    "id": serializers.CharField(), "endpoint": serializers.CharField(allow_null=True), "url": serializers.CharField(),
    "status": serializers.ChoiceField(choices=DeliveryStatus.values), "attemptCount": serializers.IntegerField(),
    "lastStatusCode": serializers.IntegerField(allow_null=True), "lastError": serializers.CharField(),
    "nextAttemptAt": serializers.DateTimeField(allow_null=True),
})
EventOutput = inline_serializer("Event", {
    "id": serializers.CharField(), "type": serializers.CharField(), "timestamp": serializers.DateTimeField(),
    "receivedAt": serializers.DateTimeField(), "origin": serializers.CharField(), "data": serializers.DictField(),
    "deliveries": DeliverySummary.__class__(many=True),
})
AttemptOutput = inline_serializer("Attempt", {
    "startedAt": serializers.DateTimeField(), "durationMs": serializers.FloatField(), "statusCode": serializers.IntegerField(allow_null=True),
    "error": serializers.CharField(),
    "requestHeaders": serializers.DictField(required=False, child=serializers.CharField(allow_null=True), help_text=(
        "As sent. The values of the endpoint's own headers are null unless the token has "
        f"{MANAGE_SCOPE}; those the hub sets (webhook-*, its Content-Type and User-Agent) are always given.")),
    "responseHeaders": serializers.DictField(required=False), "responseBody": serializers.CharField(required=False),
})
DeliveryOutput = inline_serializer("Delivery", {
    **{name: field for name, field in DeliverySummary.__class__().get_fields().items()},
    "event": serializers.DictField(), "webhookId": serializers.CharField(), "createdAt": serializers.DateTimeField(),
    "finishedAt": serializers.DateTimeField(allow_null=True), "attempts": AttemptOutput.__class__(many=True),
    "body": serializers.JSONField(required=False),
})
SampleInput = inline_serializer("SampleEvent", {"eventType": serializers.CharField(), "data": serializers.DictField(required=False)})
PreviewOutput = inline_serializer("DeliveryPreview", {
    "matches": serializers.BooleanField(), "reasons": serializers.ListField(child=serializers.CharField()),
    "body": serializers.JSONField(),
    "headers": serializers.DictField(child=serializers.CharField(allow_null=True), help_text=(
        "The request headers. webhook-signature is made with the placeholder secret, never the endpoint's; the "
        f"values of the endpoint's own headers are null unless the token has {MANAGE_SCOPE}.")),
    "signedWith": serializers.ChoiceField(choices=[delivery_services.PREVIEW_SIGNED_WITH], help_text=(
        "Always \"placeholder\": the signature verifies with placeholderSecret only.")),
    "placeholderSecret": serializers.CharField(help_text="The published placeholder secret the preview is signed with."),
})


class EventsView(TenantAPIView):
    required_scopes = {"GET": "webhook.event_read", "POST": "webhook.event_publish"}

    @property
    def throttle_scope(self):
        # Publishing has its own rate limit (EVENTHUB RATE_LIMITS["ingest"]); reading the log counts as any API call.
        return "ingest" if self.request.method == "POST" else "api"

    @extend_schema(
        summary="Recent events, newest first, each with its deliveries",
        parameters=[OpenApiParameter("type", OpenApiTypes.STR, description="only events of this type"), *PAGE_PARAMETERS],
        responses={200: EventOutput.__class__(many=True), **ERRORS},
    )
    def get(self, request, tenant):
        events = selectors.recent_events(self.tenant, request.query_params.get("type") or None)
        return Response([event_body(e) for e in page(request, events)])

    @extend_schema(
        summary="Publish one event or a list; `id` is an idempotency key (the same id twice is stored once)",
        description="Every item is validated first: one bad item refuses the whole request and nothing is stored.",
        request=EventInput.__class__(many=True),
        responses={202: IngestResult.__class__(many=True), **ERRORS},
    )
    def post(self, request, tenant):
        try:
            incoming = parse_events(self.tenant, request.data)
        except IngestError as exc:
            return error_response(400, str(exc), exc.details)
        results = record_events(self.tenant, incoming)
        body = [{"id": r.event_id, "created": r.created, "deliveries": r.deliveries} for r in results]
        return Response(body, status=status.HTTP_202_ACCEPTED)


class DeliveryMixin:
    def get_delivery(self, delivery_id):
        if not str(delivery_id).isdigit():
            raise NotFound(f"Delivery '{delivery_id}' does not exist.")
        try:
            return selectors.deliveries_log(self.tenant).get(pk=int(delivery_id))
        except Delivery.DoesNotExist:
            raise NotFound(f"Delivery '{delivery_id}' does not exist.")


class DeliveriesView(EndpointContextMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.endpoint_read"}

    @extend_schema(
        summary="The delivery log, newest first, with attempts",
        parameters=[
            OpenApiParameter("endpoint", OpenApiTypes.UUID, description="only this endpoint's deliveries"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=DeliveryStatus.values),
            OpenApiParameter("eventType", OpenApiTypes.STR, description="an event type or a pattern (`*` is any run of characters)"),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="created at or after"),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="created at or before"),
            *PAGE_PARAMETERS,
        ],
        responses={200: DeliveryOutput.__class__(many=True), **ERRORS},
    )
    def get(self, request, tenant):
        endpoint = request.query_params.get("endpoint")
        if endpoint:
            endpoint = self.get_endpoint(endpoint).pk
        state = request.query_params.get("status") or None
        if state is not None and state not in DeliveryStatus.values:
            raise ValidationError({"status": [f"'{state}' is not one of {', '.join(DeliveryStatus.values)}."]})
        deliveries = selectors.deliveries_log(
            self.tenant, endpoint, state, request.query_params.get("eventType") or None, datetime_param(request, "since"),
            datetime_param(request, "until"),
        )
        return Response([delivery_body(d) for d in page(request, deliveries)])  # no headers in the list


class DeliveryDetailView(DeliveryMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.endpoint_read"}

    @extend_schema(summary="One delivery in full: the body sent, and every attempt with request and response",
                   responses={200: DeliveryOutput, **NOT_FOUND, **ERRORS})
    def get(self, request, tenant, delivery_id):
        return Response(delivery_body(self.get_delivery(delivery_id), full=True, header_values=shows_header_values(request)))


class RetryDeliveryView(DeliveryMixin, TenantAPIView):
    required_scopes = {"POST": "webhook.endpoint_manage"}

    @extend_schema(summary="Send a delivery again now (same webhook-id)", request=None,
                   responses={202: DeliveryOutput, 409: ErrorSerializer, **NOT_FOUND, **ERRORS})
    def post(self, request, tenant, delivery_id):
        delivery = self.get_delivery(delivery_id)
        try:
            delivery_services.retry_delivery(delivery)
        except delivery_services.NotRetryable as exc:
            return error_response(409, str(exc))
        wake_workers()
        return Response(delivery_body(self.get_delivery(delivery_id)), status=status.HTTP_202_ACCEPTED)


class ReplayEndpointView(EndpointContextMixin, TenantAPIView):
    required_scopes = {"POST": "webhook.endpoint_manage"}

    @extend_schema(
        summary="Resend every delivery of a time window to this endpoint, as new deliveries (new webhook-ids)",
        parameters=[OpenApiParameter("since", OpenApiTypes.DATETIME, required=True), OpenApiParameter("until", OpenApiTypes.DATETIME)],
        request=None,
        responses={202: inline_serializer("ReplayResult", {"deliveries": serializers.IntegerField()}), **NOT_FOUND, **ERRORS},
    )
    def post(self, request, tenant, endpoint_id):
        endpoint = self.get_endpoint(endpoint_id)
        since, until = datetime_param(request, "since", required=True), datetime_param(request, "until")
        if until is not None and until < since:
            raise ValidationError({"until": ["Must not be before since."]})
        count = delivery_services.replay_endpoint(endpoint, since, until)
        wake_workers()
        return Response({"deliveries": count}, status=status.HTTP_202_ACCEPTED)


class SampleEventMixin(EndpointContextMixin):
    def sample(self, request):
        data = request.data if isinstance(request.data, dict) else None
        if data is None or not isinstance(data.get("eventType"), str):
            raise ValidationError({"eventType": ["Required: an event type key."]})
        if "data" in data and not isinstance(data["data"], dict):
            raise ValidationError({"data": ["Must be an object."]})
        extra = sorted(set(data) - {"eventType", "data"})
        if extra:
            raise ValidationError({name: ["Unknown property."] for name in extra})
        return data["eventType"], data.get("data")

    def for_sample(self, request, endpoint, service):
        """service(endpoint, event_type, data); an unknown event type is a 400 naming eventType."""
        event_type, data = self.sample(request)
        try:
            return service(endpoint, event_type, data)
        except delivery_services.UnknownEventType as exc:
            raise ValidationError({"eventType": [str(exc)]})


class PreviewView(SampleEventMixin, TenantAPIView):
    required_scopes = {"POST": "webhook.endpoint_read"}

    @extend_schema(
        summary="Would this endpoint get the event, why not, and the exact body and headers it would be sent",
        description="The headers are signed with a published placeholder secret (`signedWith: \"placeholder\"`), never "
                    "with the endpoint's: previewing needs only webhook.endpoint_read and takes any data, so a real "
                    f"signature would let a reader forge deliveries. A real, signed test send needs {MANAGE_SCOPE}.",
        request=SampleInput, responses={200: PreviewOutput, **NOT_FOUND, **ERRORS},
    )
    def post(self, request, tenant, endpoint_id):
        preview = self.for_sample(request, self.get_endpoint(endpoint_id), delivery_services.preview_delivery)
        headers = preview.headers if shows_header_values(request) else delivery_services.masked_request_headers(preview.headers)
        return Response({"matches": preview.matches, "reasons": preview.reasons, "body": json.loads(preview.body), "headers": headers,
                         "signedWith": preview.signed_with, "placeholderSecret": delivery_services.PREVIEW_SECRET})


class TestSendView(SampleEventMixin, TenantAPIView):
    required_scopes = {"POST": "webhook.endpoint_manage"}

    @extend_schema(summary="Queue a test event for this endpoint (whatever its subscriptions and filter); the worker sends it "
                           "at once. Follow the delivery (Location) for its attempt",
                   request=SampleInput, responses={202: DeliveryOutput, **NOT_FOUND, **ERRORS})
    def post(self, request, tenant, endpoint_id):
        # Queued like the dashboard's (the service wakes the workers on commit): a request never waits for a receiver.
        delivery = self.for_sample(request, self.get_endpoint(endpoint_id), delivery_services.send_test_event)
        body = delivery_body(selectors.deliveries_log(self.tenant).get(pk=delivery.pk), full=True, header_values=shows_header_values(request))
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/webhook/{self.tenant.name}/deliveries/{delivery.pk}"})



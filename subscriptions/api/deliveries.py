"""The delivery log and its actions: /webhook/{tenant}/deliveries[/{id}[/retry]], and an endpoint's replay, recover,
preview and test send (/webhook/{tenant}/endpoints/{id}/replay|recover|preview|test)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from eventhub.api import NotADateTime, error_response, utc_datetime
from subscriptions.delivery import actions as delivery_services
from subscriptions import selectors
from subscriptions.api.endpoints import MANAGE_SCOPE, EndpointContextMixin, shows_header_values
from subscriptions.api.serializers import ErrorSerializer
from subscriptions.api.base import ERRORS, NOT_FOUND, TenantAPIView
from subscriptions.api.outputs import DeliveryPreviewSerializer, DeliverySerializer, ReplayResultSerializer
from subscriptions.api.pagination import Pagination
from subscriptions.models import Delivery, DeliveryStatus

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


def id_param(request, name, longest=200):
    """An exact id to search by (an event id, a webhook-id), bounded like the ids the hub stores."""
    value = request.query_params.get(name) or None
    if value is not None and len(value) > longest:
        raise ValidationError({name: [f"At most {longest} characters."]})
    return value


def full_delivery(delivery, request):
    """A delivery in full: its body and every attempt's headers (the endpoint's own values only for managers)."""
    return DeliverySerializer(delivery, context={"full": True, "header_values": shows_header_values(request)}).data


SampleInput = inline_serializer("SampleEvent", {"eventType": serializers.CharField(), "data": serializers.DictField(required=False)})
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
            OpenApiParameter("eventId", OpenApiTypes.STR, description="only deliveries of the event with this id"),
            OpenApiParameter("webhookId", OpenApiTypes.STR, description="the delivery with this webhook-id (msg_...)"),
            *Pagination.parameters(),
        ],
        responses={200: DeliverySerializer(many=True), **ERRORS},
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
            datetime_param(request, "until"), event_id=id_param(request, "eventId"), webhook_id=id_param(request, "webhookId"),
        )
        return self.paged_response(deliveries, DeliverySerializer)  # no headers in the list


class DeliveryDetailView(DeliveryMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.endpoint_read"}

    @extend_schema(summary="One delivery in full: the body sent, and every attempt with request and response",
                   responses={200: DeliverySerializer, **NOT_FOUND, **ERRORS})
    def get(self, request, tenant, delivery_id):
        return Response(full_delivery(self.get_delivery(delivery_id), request))


class RetryDeliveryView(DeliveryMixin, TenantAPIView):
    required_scopes = {"POST": "webhook.endpoint_manage"}

    @extend_schema(summary="Send a delivery again now (same webhook-id)", request=None,
                   responses={202: DeliverySerializer, 409: ErrorSerializer, **NOT_FOUND, **ERRORS})
    def post(self, request, tenant, delivery_id):
        delivery = self.get_delivery(delivery_id)
        try:
            delivery_services.retry_delivery(delivery)
        except delivery_services.NotRetryable as exc:
            return error_response(409, str(exc))
        return Response(DeliverySerializer(self.get_delivery(delivery_id)).data, status=status.HTTP_202_ACCEPTED)


class ReplayEndpointView(EndpointContextMixin, TenantAPIView):
    required_scopes = {"POST": "webhook.endpoint_manage"}

    @extend_schema(
        summary="Resend every delivery of a time window to this endpoint, as new deliveries (new webhook-ids)",
        parameters=[OpenApiParameter("since", OpenApiTypes.DATETIME, required=True), OpenApiParameter("until", OpenApiTypes.DATETIME)],
        request=None,
        responses={202: ReplayResultSerializer, **NOT_FOUND, **ERRORS},
    )
    def post(self, request, tenant, endpoint_id):
        endpoint = self.get_endpoint(endpoint_id)
        since, until = datetime_param(request, "since", required=True), datetime_param(request, "until")
        if until is not None and until < since:
            raise ValidationError({"until": ["Must not be before since."]})
        count = delivery_services.replay_endpoint(endpoint, since, until)
        return Response(ReplayResultSerializer({"deliveries": count}).data, status=status.HTTP_202_ACCEPTED)


class RecoverEndpointView(EndpointContextMixin, TenantAPIView):
    required_scopes = {"POST": "webhook.endpoint_manage"}

    @extend_schema(
        summary="Send again the deliveries to this endpoint created in a window that failed: same webhook-ids, new attempts",
        parameters=[OpenApiParameter("since", OpenApiTypes.DATETIME, required=True, description="created at or after"),
                    OpenApiParameter("until", OpenApiTypes.DATETIME, required=True, description=(
                        f"created before; at most {delivery_services.RECOVER_MAX_SPAN.days} days after since"))],
        request=None,
        responses={202: inline_serializer("RecoverResult", {"deliveries": serializers.IntegerField()}), 409: ErrorSerializer, **NOT_FOUND, **ERRORS},
    )
    def post(self, request, tenant, endpoint_id):
        endpoint = self.get_endpoint(endpoint_id)
        since, until = datetime_param(request, "since", required=True), datetime_param(request, "until", required=True)
        try:
            count = delivery_services.recover_endpoint(endpoint, since, until)
        except delivery_services.BadWindow as exc:
            raise ValidationError({exc.field: [str(exc)]})
        except delivery_services.NotRetryable as exc:
            return error_response(409, str(exc))
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
        request=SampleInput, responses={200: DeliveryPreviewSerializer, **NOT_FOUND, **ERRORS},
    )
    def post(self, request, tenant, endpoint_id):
        preview = self.for_sample(request, self.get_endpoint(endpoint_id), delivery_services.preview_delivery)
        return Response(DeliveryPreviewSerializer(preview, context={"header_values": shows_header_values(request)}).data)


class TestSendView(SampleEventMixin, TenantAPIView):
    required_scopes = {"POST": "webhook.endpoint_manage"}

    @extend_schema(summary="Queue a test event for this endpoint (whatever its subscriptions and filter); the worker sends it "
                           "at once. Follow the delivery (Location) for its attempt",
                   request=SampleInput, responses={202: DeliverySerializer, **NOT_FOUND, **ERRORS})
    def post(self, request, tenant, endpoint_id):
        # Queued like the dashboard's (the service wakes the workers on commit): a request never waits for a receiver.
        delivery = self.for_sample(request, self.get_endpoint(endpoint_id), delivery_services.send_test_event)
        body = full_delivery(selectors.deliveries_log(self.tenant).get(pk=delivery.pk), request)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/webhook/{self.tenant.name}/deliveries/{delivery.pk}"})

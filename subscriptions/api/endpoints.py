"""Webhook endpoints API: /webhook/{tenant}/endpoints[/{id}[/rotate-secret]]."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from eventhub.api import error_response, iso_ms
from subscriptions.endpoints import services as endpoint_services
from subscriptions import selectors
from subscriptions.api.serializers import EndpointOutputSerializer, EndpointSerializer, ErrorSerializer
from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.delivery.actions import masked_headers
from subscriptions.models import Endpoint
from subscriptions.services import CONFLICT_MESSAGE

MANAGE_SCOPE = "webhook.endpoint_manage"
HEADER_VALUES_NOTE = (
    f"The values of `headers` (often a receiver's credentials) are shown only to tokens with `{MANAGE_SCOPE}`; "
    "for other tokens every value is null and only the names are given."
)


def shows_header_values(request):
    """Header values are often a receiver's credentials (Authorization: Bearer ...): only a token that may change
    the endpoint sees them; others get the names with null values (deliveries.masked_headers)."""
    return MANAGE_SCOPE in request.user.scopes


def endpoint_body(endpoint, secret=None, header_values=False):
    body = {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "method": endpoint.method,
        "headers": endpoint.headers if header_values else masked_headers(endpoint.headers),
        "events": endpoint.events,
        "eventFilter": endpoint.event_filter,
        "customPayload": endpoint.custom_payload,
        "excludedFields": endpoint.excluded_fields,
        "payloadFormat": endpoint.payload_format,
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
        "description": endpoint.description,
        "timeoutSeconds": endpoint.timeout_seconds,
        "metadata": {"version": endpoint.version, "createdAt": iso_ms(endpoint.created_at), "modifiedAt": iso_ms(endpoint.modified_at)},
    }
    if secret is not None:
        body["secret"] = secret
    return body


class EndpointContextMixin:
    def body(self, endpoint, secret=None):
        return endpoint_body(endpoint, secret, header_values=shows_header_values(self.request))

    def serializer(self, data, partial=False):
        known = list(selectors.visible_event_types(self.tenant).values_list("key", flat=True))
        return EndpointSerializer(data=data, partial=partial, context={"known_event_types": known})

    def get_endpoint(self, endpoint_id):
        try:
            return Endpoint.objects.get(pk=endpoint_id, tenant=self.tenant)
        except (Endpoint.DoesNotExist, DjangoValidationError, ValueError):
            raise NotFound(f"Endpoint '{endpoint_id}' does not exist.")


class EndpointsView(EndpointContextMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.endpoint_read", "POST": MANAGE_SCOPE}

    @extend_schema(summary="List the tenant's webhook endpoints", description=HEADER_VALUES_NOTE,
                   responses={200: EndpointOutputSerializer(many=True), **ERRORS})
    def get(self, request, tenant):
        return Response([self.body(e) for e in Endpoint.objects.filter(tenant=self.tenant)])

    @extend_schema(summary="Create a webhook endpoint; the answer carries its signing secret, shown only this once",
                   request=EndpointSerializer, responses={201: EndpointOutputSerializer, **ERRORS})
    def post(self, request, tenant):
        serializer = self.serializer(request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = endpoint_services.create_endpoint(self.tenant, serializer.model_values())
        return Response(self.body(endpoint, secret), status=status.HTTP_201_CREATED)


class EndpointDetailView(EndpointContextMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.endpoint_read", "PATCH": MANAGE_SCOPE, "DELETE": MANAGE_SCOPE}

    @extend_schema(summary="One webhook endpoint (never its secret)", description=HEADER_VALUES_NOTE,
                   responses={200: EndpointOutputSerializer, 404: ErrorSerializer, **ERRORS})
    def get(self, request, tenant, endpoint_id):
        return Response(self.body(self.get_endpoint(endpoint_id)))

    @extend_schema(summary="Change an endpoint; needs its current metadata.version (409 when stale)",
                   request=EndpointSerializer, responses={200: EndpointOutputSerializer, 409: ErrorSerializer, **ERRORS})
    def patch(self, request, tenant, endpoint_id):
        endpoint = self.get_endpoint(endpoint_id)
        serializer = self.serializer(request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        version = serializer.validated_data.get("metadata", {}).get("version")
        result = endpoint_services.update_endpoint(endpoint, serializer.model_values(), version)
        if isinstance(result, endpoint_services.Conflict):
            return error_response(409, CONFLICT_MESSAGE)
        return Response(self.body(result))

    @extend_schema(summary="Remove an endpoint", responses={204: None, 404: ErrorSerializer, **ERRORS})
    def delete(self, request, tenant, endpoint_id):
        endpoint_services.delete_endpoint(self.get_endpoint(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(EndpointContextMixin, TenantAPIView):
    required_scopes = {"POST": MANAGE_SCOPE}

    @extend_schema(summary="New signing secret, shown once; the previous one keeps signing for 24 h", request=None,
                   responses={200: EndpointOutputSerializer, 404: ErrorSerializer, **ERRORS})
    def post(self, request, tenant, endpoint_id):
        endpoint = self.get_endpoint(endpoint_id)
        secret = endpoint_services.rotate_secret(endpoint)
        endpoint.refresh_from_db()
        return Response(self.body(endpoint, secret))

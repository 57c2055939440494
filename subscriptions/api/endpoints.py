"""Webhook endpoints API: /webhook/{tenant}/endpoints[/{id}[/rotate-secret]]."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from eventhub.api import error_response
from subscriptions.endpoints import services as endpoint_services
from subscriptions import selectors
from subscriptions.api.outputs import MANAGE_SCOPE, EndpointOutputSerializer, shows_header_values
from subscriptions.api.serializers import EndpointSerializer, ErrorSerializer
from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.models import Endpoint
from subscriptions.services import CONFLICT_MESSAGE

__all__ = ["MANAGE_SCOPE", "EndpointContextMixin", "shows_header_values"]  # the endpoints' actions import these here

HEADER_VALUES_NOTE = (
    f"The values of `headers` (often a receiver's credentials) are shown only to tokens with `{MANAGE_SCOPE}`; "
    "for other tokens every value is null and only the names are given."
)


class EndpointContextMixin:
    def body(self, endpoint, secret=None):
        context = {"header_values": shows_header_values(self.request), "secret": secret}
        return EndpointOutputSerializer(endpoint, context=context).data

    def serializer(self, data, partial=False):
        known = list(selectors.visible_event_types(self.tenant).values_list("key", flat=True))
        return EndpointSerializer(data=data, partial=partial, context={"known_event_types": known})

    def get_endpoint(self, endpoint_id):
        return self.tenant_object(Endpoint.objects.all(), endpoint_id, "Endpoint")


class EndpointsView(EndpointContextMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.endpoint_read", "POST": MANAGE_SCOPE}

    @extend_schema(summary="List the tenant's webhook endpoints", description=HEADER_VALUES_NOTE,
                   responses={200: EndpointOutputSerializer(many=True), **ERRORS})
    def get(self, request, tenant):
        endpoints = Endpoint.objects.filter(tenant=self.tenant)
        return Response(EndpointOutputSerializer(endpoints, many=True, context={"header_values": shows_header_values(request)}).data)

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

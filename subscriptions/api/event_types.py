"""The event catalog: /webhook/{tenant}/event-types[/{key}]: built-in types and the tenant's own."""

from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from drf_spectacular.utils import extend_schema

from eventhub.api import error_response
from subscriptions import selectors, services
from subscriptions.api.base import ERRORS, TenantAPIView, csv_param
from subscriptions.api.catalog_outputs import EventTypeOutputSerializer
from subscriptions.api.serializers import ErrorSerializer, EventTypeSerializer


class EventTypesView(TenantAPIView):
    required_scopes = {"GET": "webhook.subscription_read", "POST": "webhook.eventtype_manage"}

    @extend_schema(summary="The event catalog: built-in types and the tenant's own, all languages", responses={200: EventTypeOutputSerializer(many=True), **ERRORS})
    def get(self, request, tenant):
        types = selectors.visible_event_types(self.tenant)
        sources = csv_param(request, "source")
        if sources:
            types = types.filter(source__in=sources)
        return Response(EventTypeOutputSerializer(types, many=True).data)

    @extend_schema(summary="Register a custom event type", request=EventTypeSerializer, responses={201: EventTypeOutputSerializer, 409: ErrorSerializer, **ERRORS})
    def post(self, request, tenant):
        serializer = EventTypeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            event_type = services.create_custom_event_type(self.tenant, serializer.validated_data["type"], serializer.model_values())
        except services.EventTypeConflict as exc:
            return error_response(409, str(exc))
        return Response(EventTypeOutputSerializer(event_type).data, status=status.HTTP_201_CREATED)


class EventTypeDetailView(TenantAPIView):
    required_scopes = {"GET": "webhook.subscription_read", "PUT": "webhook.eventtype_manage", "DELETE": "webhook.eventtype_manage"}

    def get_event_type(self, key, writable=False):
        event_type = selectors.find_event_type(self.tenant, key)
        if event_type is None:
            raise NotFound(f"Event type '{key}' does not exist.")
        if writable and event_type.is_builtin:
            raise PermissionDenied(f"Event type '{key}' is built in and cannot be changed.")
        return event_type

    @extend_schema(summary="One event type", responses={200: EventTypeOutputSerializer, 404: ErrorSerializer})
    def get(self, request, tenant, key):
        return Response(EventTypeOutputSerializer(self.get_event_type(key)).data)

    @extend_schema(summary="Replace a custom event type", request=EventTypeSerializer, responses={200: EventTypeOutputSerializer, **ERRORS})
    def put(self, request, tenant, key):
        event_type = self.get_event_type(key, writable=True)
        serializer = EventTypeSerializer(data={**request.data, "type": key} if isinstance(request.data, dict) else request.data)
        serializer.is_valid(raise_exception=True)
        return Response(EventTypeOutputSerializer(services.update_custom_event_type(event_type, serializer.model_values())).data)

    @extend_schema(summary="Remove a custom event type and the tenant's subscription to it", responses={204: None, **ERRORS})
    def delete(self, request, tenant, key):
        services.delete_custom_event_type(self.get_event_type(key, writable=True))
        return Response(status=status.HTTP_204_NO_CONTENT)

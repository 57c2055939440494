"""Subscriptions API views: validate, call one service or selector, render."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from eventhub.api import error_response, flatten_details, iso_ms
from eventhub.conf import hub_setting
from eventhub.languages import localize, parse_accept_language
from subscriptions import selectors, services
from subscriptions.api.serializers import (
    ErrorSerializer,
    EventSubscriptionSerializer,
    EventTypeSerializer,
    ItemResultSerializer,
    SubscriptionUpdateItemSerializer,
)
from subscriptions.services import ItemResult

STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "NONE")
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


class TenantAPIView(APIView):
    """Base for /webhook/{tenant}/...: HasTenantScope has checked the tenant against the token."""

    @property
    def tenant(self):
        return self.request.user.tenant


def list_body(request):
    """The body as a list of objects of bounded length, or a 400 in the common error shape."""
    data = request.data
    limit = hub_setting("MAX_BATCH_ITEMS")
    if not isinstance(data, list):
        raise ValidationError("The body must be a JSON list of objects.")
    if len(data) > limit:
        raise ValidationError(f"The body holds {len(data)} items; at most {limit} are allowed in one request.")
    bad = [index for index, item in enumerate(data) if not isinstance(item, dict)]
    if bad:
        raise ValidationError({f"[{index}]": ["Expected an object."] for index in bad[:20]})
    return data


def csv_param(request, name):
    raw = request.query_params.get(name, "")
    return [part.strip() for part in raw.split(",") if part.strip()]


class EventSubscriptionsView(TenantAPIView):
    required_scopes = {"GET": "webhook.subscription_read", "PATCH": "webhook.subscription_manage"}

    @extend_schema(
        summary="Retrieve all event types with the tenant's subscription details",
        parameters=[
            OpenApiParameter("Accept-Language", OpenApiTypes.STR, OpenApiParameter.HEADER, description="e.g. fr-CH, fr;q=0.9, en;q=0.8"),
            OpenApiParameter("eventType", OpenApiTypes.STR, description="comma-separated event type keys"),
            OpenApiParameter("subscription", OpenApiTypes.STR, description="comma-separated: SUBSCRIBED, UNSUBSCRIBED, NONE"),
        ],
        responses={200: EventSubscriptionSerializer(many=True), **ERRORS},
    )
    def get(self, request, tenant):
        states = [s.upper() for s in csv_param(request, "subscription")]
        bad = [s for s in states if s not in STATES]
        if bad:
            raise ValidationError({"subscription": [f"'{bad[0]}' is not one of {', '.join(STATES)}."]})
        rows = selectors.event_subscriptions(self.tenant, csv_param(request, "eventType"), states)
        preferences = parse_accept_language(request.headers.get("Accept-Language"))
        fallbacks = (self.tenant.default_language, "en")
        return Response([subscription_item(t, s, preferences, fallbacks) for t, s in rows])

    @extend_schema(
        summary="Subscribe to or unsubscribe from event types",
        request=SubscriptionUpdateItemSerializer(many=True),
        responses={207: ItemResultSerializer(many=True), **ERRORS},
    )
    def patch(self, request, tenant):
        results = []
        for item in list_body(request):
            serializer = SubscriptionUpdateItemSerializer(data=item)
            if serializer.is_valid():
                results.append(services.apply_subscription_change(self.tenant, serializer.to_change()))
            else:
                results.append(invalid_item(item, serializer.errors))
        return Response([r.as_dict() for r in results], status=status.HTTP_207_MULTI_STATUS)


def invalid_item(item, errors):
    details = flatten_details(errors)
    first = details[0]
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    event_type = item.get("eventType") if isinstance(item.get("eventType"), str) else None
    return ItemResult(event_type, 400, message, details)


def subscription_item(event_type, subscription, preferences, fallbacks):
    metadata = {}
    if subscription is not None:
        metadata = {
            "version": subscription.version,
            "createdAt": iso_ms(subscription.created_at),
            "modifiedAt": iso_ms(subscription.modified_at),
        }
    return {
        "event": {
            "type": event_type.key,
            "eventSchema": event_type.event_schema,
            "name": localize(event_type.name, preferences, fallbacks),
            "group": localize(event_type.group, preferences, fallbacks),
            "description": localize(event_type.description, preferences, fallbacks),
        },
        "metadata": metadata,
        "subscription": subscription.state if subscription is not None else "NONE",
        "excludedFields": list(subscription.excluded_fields) if subscription is not None else [],
    }


def event_type_body(event_type):
    return {
        "type": event_type.key,
        "source": event_type.source,
        "kind": event_type.kind,
        "name": event_type.name,
        "group": event_type.group,
        "description": event_type.description,
        "eventSchema": event_type.event_schema,
        "example": event_type.example,
        "builtIn": event_type.is_builtin,
    }


class EventTypesView(TenantAPIView):
    required_scopes = {"GET": "webhook.subscription_read", "POST": "webhook.eventtype_manage"}

    @extend_schema(summary="The event catalog: built-in types and the tenant's own, all languages", responses={200: EventTypeSerializer(many=True), **ERRORS})
    def get(self, request, tenant):
        types = selectors.visible_event_types(self.tenant)
        sources = csv_param(request, "source")
        if sources:
            types = types.filter(source__in=sources)
        return Response([event_type_body(t) for t in types])

    @extend_schema(summary="Register a custom event type", request=EventTypeSerializer, responses={201: EventTypeSerializer, 409: ErrorSerializer, **ERRORS})
    def post(self, request, tenant):
        serializer = EventTypeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            event_type = services.create_custom_event_type(self.tenant, serializer.validated_data["type"], serializer.model_values())
        except services.EventTypeConflict as exc:
            return error_response(409, str(exc))
        return Response(event_type_body(event_type), status=status.HTTP_201_CREATED)


class EventTypeDetailView(TenantAPIView):
    required_scopes = {"GET": "webhook.subscription_read", "PUT": "webhook.eventtype_manage", "DELETE": "webhook.eventtype_manage"}

    def get_event_type(self, key, writable=False):
        event_type = selectors.find_event_type(self.tenant, key)
        if event_type is None:
            raise NotFound(f"Event type '{key}' does not exist.")
        if writable and event_type.is_builtin:
            raise PermissionDenied(f"Event type '{key}' is built in and cannot be changed.")
        return event_type

    @extend_schema(summary="One event type", responses={200: EventTypeSerializer, 404: ErrorSerializer})
    def get(self, request, tenant, key):
        return Response(event_type_body(self.get_event_type(key)))

    @extend_schema(summary="Replace a custom event type", request=EventTypeSerializer, responses={200: EventTypeSerializer, **ERRORS})
    def put(self, request, tenant, key):
        event_type = self.get_event_type(key, writable=True)
        serializer = EventTypeSerializer(data={**request.data, "type": key} if isinstance(request.data, dict) else request.data)
        serializer.is_valid(raise_exception=True)
        return Response(event_type_body(services.update_custom_event_type(event_type, serializer.model_values())))

    @extend_schema(summary="Remove a custom event type and the tenant's subscription to it", responses={204: None, **ERRORS})
    def delete(self, request, tenant, key):
        services.delete_custom_event_type(self.get_event_type(key, writable=True))
        return Response(status=status.HTTP_204_NO_CONTENT)

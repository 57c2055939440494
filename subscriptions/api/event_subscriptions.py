"""Event subscriptions: /webhook/{tenant}/event-subscriptions (Emporix-compatible): read, subscribe, unsubscribe."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from eventhub.api import flatten_details
from eventhub.languages import parse_accept_language, within
from subscriptions import selectors, services
from subscriptions.api.base import ERRORS, TenantAPIView, csv_param, list_body
from subscriptions.api.outputs import EventSubscriptionSerializer, SubscriptionRow
from subscriptions.api.serializers import (
    ItemResultSerializer,
    SubscriptionUpdateItemSerializer,
)
from subscriptions.services import ItemResult

STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "NONE")


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
        preferences = within(parse_accept_language(request.headers.get("Accept-Language")), self.tenant.languages)
        context = {"preferences": preferences, "fallbacks": (self.tenant.default_language, "en")}
        return Response(EventSubscriptionSerializer([SubscriptionRow(*row) for row in rows], many=True, context=context).data)

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


"""Event subscriptions: /webhook/{tenant}/event-subscriptions (Emporix-compatible): read, subscribe, unsubscribe."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from eventhub.languages import parse_accept_language, within
from subscriptions import selectors, services
from subscriptions.api.base import ERRORS, TenantAPIView, csv_param, list_body
from subscriptions.api.catalog_outputs import EventSubscriptionSerializer, SubscriptionRow
from subscriptions.api.serializers import (
    ItemResultSerializer,
    SubscriptionUpdateItemSerializer,
)

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
        changes = subscription_changes(list_body(request))
        results = [services.apply_subscription_change(self.tenant, change) for change in changes]
        return Response([r.as_dict() for r in results], status=status.HTTP_207_MULTI_STATUS)


def subscription_changes(items):
    """Every item as a SubscriptionChange; a body that breaks Emporix's schema (no eventType, an unknown action,
    metadata.version below 1, a field of the wrong type) is one 400 naming each problem (`[1].metadata.version`),
    and changes nothing. What only the catalog can judge (an unknown type or field, a stale version) is per item."""
    changes, errors = [], {}
    for index, item in enumerate(items):
        serializer = SubscriptionUpdateItemSerializer(data=item)
        if serializer.is_valid():
            changes.append(serializer.to_change())
        else:
            errors[f"[{index}]"] = serializer.errors
    if errors:
        raise ValidationError(errors)
    return changes


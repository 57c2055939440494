"""Events: /webhook/{tenant}/events: publish (HTTP ingest, one event or a list) and the recent-events log."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from eventhub.api import error_response
from subscriptions import selectors
from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.api.outputs import EventSerializer
from subscriptions.api.pagination import Pagination
from subscriptions.pipeline.ingest import IngestError, ingest_events


EventInput = inline_serializer(
    "IngestEvent",
    {"type": serializers.CharField(), "id": serializers.CharField(required=False, max_length=200),
     "timestamp": serializers.DateTimeField(required=False), "data": serializers.DictField()},
)
IngestResult = inline_serializer("IngestResult", {"id": serializers.CharField(), "created": serializers.BooleanField(), "deliveries": serializers.IntegerField()})
class EventsView(TenantAPIView):
    required_scopes = {"GET": "webhook.event_read", "POST": "webhook.event_publish"}

    @property
    def throttle_scope(self):
        # Publishing has its own rate limit (EVENTHUB RATE_LIMITS["ingest"]); reading the log counts as any API call.
        return "ingest" if self.request.method == "POST" else "api"

    @extend_schema(
        summary="Recent events, newest first, each with its deliveries",
        parameters=[
            OpenApiParameter("type", OpenApiTypes.STR, description="only events of this type"),
            OpenApiParameter("q", OpenApiTypes.STR, description=(
                f"only events whose body holds this text ({selectors.EVENT_TEXT_MIN} to {selectors.EVENT_TEXT_MAX} characters) "
                f"in a key or a value, in any case; among the tenant's newest {selectors.EVENT_TEXT_SCAN:,} events unless PostgreSQL has the text index "
                "(`manage.py event_text_index on`), then among all")),
            *Pagination.parameters(),
            OpenApiParameter("X-Search-Reach", OpenApiTypes.INT, location=OpenApiParameter.HEADER, response=[200], description=(
                "with `q`, when the search read only the tenant's newest events (no text index): how many")),
        ],
        responses={200: EventSerializer(many=True), **ERRORS},
    )
    def get(self, request, tenant):
        text = request.query_params.get("q") or None
        if text is not None and selectors.event_text_problem(text):
            raise ValidationError({"q": [selectors.event_text_problem(text)]})
        reach = selectors.text_search_reach() if text is not None else None
        events = selectors.recent_events(self.tenant, request.query_params.get("type") or None, text, reach)
        try:
            with selectors.bounded_text_search(text):
                response = self.paged_response(events, EventSerializer)
        except selectors.SearchTooBroad as exc:
            raise ValidationError({"q": [str(exc)]})
        if reach is not None:
            response["X-Search-Reach"] = str(reach)
        return response

    @extend_schema(
        summary="Publish one event or a list; `id` is an idempotency key (the same id twice is stored once)",
        description="Every item is validated first: one bad item refuses the whole request and nothing is stored.",
        request=EventInput.__class__(many=True),
        responses={202: IngestResult.__class__(many=True), **ERRORS},
    )
    def post(self, request, tenant):
        try:
            results = ingest_events(self.tenant, request.data)
        except IngestError as exc:
            return error_response(400, str(exc), exc.details)
        body = [{"id": r.event_id, "created": r.created, "deliveries": r.deliveries} for r in results]
        return Response(body, status=status.HTTP_202_ACCEPTED)

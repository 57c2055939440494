"""Dead letters: /webhook/{tenant}/dead-letters[/{id}/redrive]: broker messages that could not become events."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from eventhub.api import error_response
from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.api.outputs import DeadLetterSerializer, RedriveResultSerializer
from subscriptions.api.pagination import CountedPagination
from subscriptions.api.serializers import ErrorSerializer
from subscriptions.broker import sources as source_services
from subscriptions.models import DeadLetter


class DeadLettersView(TenantAPIView):
    required_scopes = {"GET": "webhook.source_read"}
    pagination_class = CountedPagination

    @extend_schema(
        summary="Broker messages of the tenant's sources that could not become events, newest first",
        parameters=[
            *CountedPagination.parameters(),
        ],
        responses={200: DeadLetterSerializer(many=True), **ERRORS},
    )
    def get(self, request, tenant):
        return self.paged_response(source_services.dead_letters_of(self.tenant), DeadLetterSerializer)


class RedriveView(TenantAPIView):
    required_scopes = {"POST": "webhook.source_manage"}

    @extend_schema(summary="Convert a dead-lettered message again (e.g. after creating the missing source or type)",
                   request=None, responses={200: RedriveResultSerializer, 404: ErrorSerializer, **ERRORS})
    def post(self, request, tenant, dead_letter_id):
        try:
            if not dead_letter_id.isdigit() or len(dead_letter_id) > 18:  # a bigint, never a database error
                raise ValueError(dead_letter_id)
            dead_letter = DeadLetter.objects.get(pk=int(dead_letter_id), tenant=self.tenant)
        except (DeadLetter.DoesNotExist, ValueError):
            raise NotFound(f"Dead letter '{dead_letter_id}' does not exist.")
        try:
            recorded = source_services.redrive_dead_letter(dead_letter)
        except source_services.RedriveFailed as exc:
            return error_response(400, str(exc))
        return Response(RedriveResultSerializer(recorded, context={"dead_letter": dead_letter}).data)

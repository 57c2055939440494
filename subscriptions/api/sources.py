"""Broker sources: /webhook/{tenant}/sources[/{id}]: which exchanges and keys a tenant's events come from."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from eventhub.api import error_response
from subscriptions import selectors
from subscriptions.broker import sources as source_services
from subscriptions.api.serializers import ErrorSerializer, MetadataVersionSerializer, NoExtraFieldsMixin, StrictCharField
from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.api.outputs import SourceOutputSerializer
from subscriptions.broker import validators
from subscriptions.core.amqp import EXCHANGE_TYPES
from subscriptions.models import Source
from subscriptions.services import CONFLICT_MESSAGE


class SourceSerializer(NoExtraFieldsMixin, serializers.Serializer):
    """A source on the wire. On PATCH the rules apply to the source as it will be (current values merged)."""

    # The rules are subscriptions/broker/validators.py's, the same the dashboard's and the admin's forms apply.
    # `source` names the model field, so validated_data holds model values. (The docstring is the schema's text.)

    id = serializers.UUIDField(read_only=True)
    name = StrictCharField(max_length=100)
    exchange = StrictCharField(max_length=255)
    exchangeType = serializers.ChoiceField(source="exchange_type", choices=EXCHANGE_TYPES, default="topic")
    bindingKeys = serializers.ListField(source="binding_keys", child=StrictCharField(max_length=255),
                                        validators=validators.BINDING_KEYS_COUNT)
    typeFrom = serializers.ChoiceField(source="type_from", choices=Source.TypeFrom.values,
                                       default=Source.TypeFrom.PROPERTY_OR_ROUTING_KEY)
    typeField = StrictCharField(source="type_field", max_length=200, allow_blank=True, default="")
    catchAllType = StrictCharField(source="catch_all_type", max_length=200, allow_blank=True, default="")
    enabled = serializers.BooleanField(default=True)
    description = serializers.CharField(max_length=2000, allow_blank=True, default="")
    metadata = MetadataVersionSerializer(required=False)

    def validate_exchange(self, value):
        return validators.clean_exchange(value)

    def validate_bindingKeys(self, value):  # noqa: N802 (the wire name)
        return validators.clean_binding_keys(value)

    def validate_catchAllType(self, value):  # noqa: N802 (the wire name)
        return validators.clean_catch_all_type(value, self.context["known_event_types"])

    def validate(self, attrs):
        current = self.context.get("current")
        type_from, type_field = (attrs.get(name, getattr(current, name, None)) for name in ("type_from", "type_field"))
        try:
            validators.clean_type_field(type_from, type_field)
        except DjangoValidationError as exc:
            raise ValidationError({"typeField": exc.messages})
        return attrs

    def model_values(self):
        return {name: value for name, value in self.validated_data.items() if name != "metadata"}


class SourceContextMixin:
    def serializer(self, data, current=None):
        known = set(selectors.visible_event_types(self.tenant).values_list("key", flat=True))
        return SourceSerializer(data=data, partial=current is not None, context={"known_event_types": known, "current": current})

    def get_source(self, source_id):
        return self.tenant_object(Source.objects.all(), source_id, "Source")


class SourcesView(SourceContextMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.source_read", "POST": "webhook.source_manage"}

    @extend_schema(summary="List the tenant's broker sources", responses={200: SourceOutputSerializer(many=True), **ERRORS})
    def get(self, request, tenant):
        return Response(SourceOutputSerializer(Source.objects.filter(tenant=self.tenant), many=True).data)

    @extend_schema(summary="Create a broker source: an exchange, binding keys and how the event type is read",
                   request=SourceSerializer, responses={201: SourceOutputSerializer, 409: ErrorSerializer, **ERRORS})
    def post(self, request, tenant):
        serializer = self.serializer(request.data)
        serializer.is_valid(raise_exception=True)
        try:
            source = source_services.create_source(self.tenant, serializer.model_values())
        except source_services.SourceNameTaken as exc:
            return error_response(409, str(exc))
        return Response(SourceOutputSerializer(source).data, status=status.HTTP_201_CREATED)


class SourceDetailView(SourceContextMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.source_read", "PATCH": "webhook.source_manage", "DELETE": "webhook.source_manage"}

    @extend_schema(summary="One broker source", responses={200: SourceOutputSerializer, 404: ErrorSerializer, **ERRORS})
    def get(self, request, tenant, source_id):
        return Response(SourceOutputSerializer(self.get_source(source_id)).data)

    @extend_schema(summary="Change a source; needs its current metadata.version (409 when stale)",
                   request=SourceSerializer, responses={200: SourceOutputSerializer, 409: ErrorSerializer, **ERRORS})
    def patch(self, request, tenant, source_id):
        source = self.get_source(source_id)
        serializer = self.serializer(request.data, current=source)
        serializer.is_valid(raise_exception=True)
        version = serializer.validated_data.get("metadata", {}).get("version")
        try:
            result = source_services.update_source(source, serializer.model_values(), version)
        except source_services.SourceNameTaken as exc:
            return error_response(409, str(exc))
        if isinstance(result, source_services.Conflict):
            return error_response(409, CONFLICT_MESSAGE)
        return Response(SourceOutputSerializer(result).data)

    @extend_schema(summary="Remove a source (its events stay)", responses={204: None, 404: ErrorSerializer, **ERRORS})
    def delete(self, request, tenant, source_id):
        source_services.delete_source(self.get_source(source_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

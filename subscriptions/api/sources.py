"""Broker sources: /webhook/{tenant}/sources[/{id}]: which exchanges and keys a tenant's events come from."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from eventhub.api import error_response, iso_ms
from subscriptions import selectors
from subscriptions.broker import sources as source_services
from subscriptions.api.serializers import ErrorSerializer, MetadataVersionSerializer, NoExtraFieldsMixin, StrictCharField
from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.core.amqp import EXCHANGE_TYPES, binding_key_problem, exchange_name_problem
from subscriptions.models import Source
from subscriptions.services import CONFLICT_MESSAGE

MAX_BINDING_KEYS = 50

WIRE_TO_MODEL = {
    "name": "name", "exchange": "exchange", "exchangeType": "exchange_type", "bindingKeys": "binding_keys",
    "typeFrom": "type_from", "typeField": "type_field", "catchAllType": "catch_all_type", "enabled": "enabled",
    "description": "description",
}


class SourceSerializer(NoExtraFieldsMixin, serializers.Serializer):
    """A source on the wire. On PATCH the rules apply to the source as it will be (current values merged)."""

    id = serializers.UUIDField(read_only=True)
    name = StrictCharField(max_length=100)
    exchange = StrictCharField(max_length=255)
    exchangeType = serializers.ChoiceField(choices=EXCHANGE_TYPES, default="topic")
    bindingKeys = serializers.ListField(child=StrictCharField(max_length=255), min_length=1, max_length=MAX_BINDING_KEYS)
    typeFrom = serializers.ChoiceField(choices=Source.TypeFrom.values, default=Source.TypeFrom.PROPERTY_OR_ROUTING_KEY)
    typeField = StrictCharField(max_length=200, allow_blank=True, default="")
    catchAllType = StrictCharField(max_length=200, allow_blank=True, default="")
    enabled = serializers.BooleanField(default=True)
    description = serializers.CharField(max_length=2000, allow_blank=True, default="")
    metadata = MetadataVersionSerializer(required=False)

    def validate_exchange(self, value):
        problem = exchange_name_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_bindingKeys(self, value):
        problems = [p for p in map(binding_key_problem, value) if p]
        if problems:
            raise serializers.ValidationError(problems)
        return list(dict.fromkeys(value))

    def validate_catchAllType(self, value):
        if value and value not in self.context["known_event_types"]:
            raise serializers.ValidationError(f"'{value}' is not an event type of the catalog.")
        return value

    def validate(self, attrs):
        current = self.context.get("current")
        merged = {wire: attrs.get(wire, getattr(current, model, None)) for wire, model in WIRE_TO_MODEL.items()}
        if merged["typeFrom"] == Source.TypeFrom.BODY_FIELD and not merged["typeField"]:
            raise ValidationError({"typeField": ["Required when typeFrom is body_field: the body field holding the type."]})
        if merged["typeFrom"] != Source.TypeFrom.BODY_FIELD and merged["typeField"]:
            raise ValidationError({"typeField": ["Only used when typeFrom is body_field."]})
        return attrs

    def model_values(self):
        return {model: self.validated_data[wire] for wire, model in WIRE_TO_MODEL.items() if wire in self.validated_data}


def source_body(source):
    return {
        "id": str(source.id),
        "name": source.name,
        "exchange": source.exchange,
        "exchangeType": source.exchange_type,
        "bindingKeys": source.binding_keys,
        "typeFrom": source.type_from,
        "typeField": source.type_field,
        "catchAllType": source.catch_all_type,
        "enabled": source.enabled,
        "description": source.description,
        "metadata": {"version": source.version, "createdAt": iso_ms(source.created_at), "modifiedAt": iso_ms(source.modified_at)},
    }


class SourceContextMixin:
    def serializer(self, data, current=None):
        known = set(selectors.visible_event_types(self.tenant).values_list("key", flat=True))
        return SourceSerializer(data=data, partial=current is not None, context={"known_event_types": known, "current": current})

    def get_source(self, source_id):
        try:
            return Source.objects.get(pk=source_id, tenant=self.tenant)
        except (Source.DoesNotExist, DjangoValidationError, ValueError):
            raise NotFound(f"Source '{source_id}' does not exist.")


class SourcesView(SourceContextMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.source_read", "POST": "webhook.source_manage"}

    @extend_schema(summary="List the tenant's broker sources", responses={200: SourceSerializer(many=True), **ERRORS})
    def get(self, request, tenant):
        return Response([source_body(s) for s in Source.objects.filter(tenant=self.tenant)])

    @extend_schema(summary="Create a broker source: an exchange, binding keys and how the event type is read",
                   request=SourceSerializer, responses={201: SourceSerializer, 409: ErrorSerializer, **ERRORS})
    def post(self, request, tenant):
        serializer = self.serializer(request.data)
        serializer.is_valid(raise_exception=True)
        try:
            source = source_services.create_source(self.tenant, serializer.model_values())
        except source_services.SourceNameTaken as exc:
            return error_response(409, str(exc))
        return Response(source_body(source), status=status.HTTP_201_CREATED)


class SourceDetailView(SourceContextMixin, TenantAPIView):
    required_scopes = {"GET": "webhook.source_read", "PATCH": "webhook.source_manage", "DELETE": "webhook.source_manage"}

    @extend_schema(summary="One broker source", responses={200: SourceSerializer, 404: ErrorSerializer, **ERRORS})
    def get(self, request, tenant, source_id):
        return Response(source_body(self.get_source(source_id)))

    @extend_schema(summary="Change a source; needs its current metadata.version (409 when stale)",
                   request=SourceSerializer, responses={200: SourceSerializer, 409: ErrorSerializer, **ERRORS})
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
        return Response(source_body(result))

    @extend_schema(summary="Remove a source (its events stay)", responses={204: None, 404: ErrorSerializer, **ERRORS})
    def delete(self, request, tenant, source_id):
        source_services.delete_source(self.get_source(source_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

"""Output serializers of the catalog and the tenant's event subscriptions (api/outputs.py has the rest, and the
conventions): an event subscription's texts are in the language of context {"preferences", "fallbacks"}."""

from typing import NamedTuple

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from subscriptions.api.outputs import BlankAsNullField, IsoMsField, LocalizedField
from subscriptions.models import SCHEMA_TYPES


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}, "example": {"en": "Created", "de": "Erstellt"}})
class TextsField(serializers.JSONField):
    """{language: text}, as stored."""


@extend_schema_serializer(component_name="EventType")
class EventTypeOutputSerializer(serializers.Serializer):
    """An event type of the catalog, built in or the tenant's own, in every language it has."""

    type = serializers.CharField(source="key")
    source = serializers.CharField()
    kind = serializers.ChoiceField(choices=["event", "command"])
    name = TextsField()
    group = TextsField()
    description = TextsField()
    eventSchema = serializers.DictField(source="event_schema", child=serializers.ChoiceField(choices=SCHEMA_TYPES))
    example = serializers.JSONField(allow_null=True)
    changes = serializers.JSONField(
        allow_null=True,
        help_text='For update events: where in data the new and the old object sit, {"new": "newObject", "old": '
                  '"oldObject"}; events of the type then carry `changed`, the paths whose values differ.',
    )
    routingKey = BlankAsNullField(source="routing_key", help_text="The routing-key form its producer publishes with.")
    appId = BlankAsNullField(source="app_id", help_text="The AMQP appId its producer sets, when documented.")
    builtIn = serializers.BooleanField(source="is_builtin")


class EventDescriptionSerializer(serializers.Serializer):
    type = serializers.CharField(source="key")
    eventSchema = serializers.DictField(source="event_schema", child=serializers.ChoiceField(choices=SCHEMA_TYPES))
    name = LocalizedField()
    group = LocalizedField()
    description = LocalizedField()


class SubscriptionMetadataSerializer(serializers.Serializer):
    """The subscription's version and times; {} while the tenant never subscribed (NONE)."""

    version = serializers.IntegerField(required=False)
    createdAt = IsoMsField(source="created_at", required=False)
    modifiedAt = IsoMsField(source="modified_at", required=False)

    def to_representation(self, row):
        return {} if row.subscription is None else super().to_representation(row.subscription)


class SubscriptionRow(NamedTuple):
    """What one item of GET event-subscriptions shows: a type, and the tenant's subscription to it if any."""

    event_type: object
    subscription: object = None

    @property
    def state(self):
        return self.subscription.state if self.subscription is not None else "NONE"

    @property
    def excluded_fields(self):
        return list(self.subscription.excluded_fields) if self.subscription is not None else []


class EventSubscriptionSerializer(serializers.Serializer):
    """One event type with the tenant's subscription to it."""

    # Renders a SubscriptionRow.

    event = EventDescriptionSerializer(source="event_type")
    metadata = SubscriptionMetadataSerializer(source="*")
    subscription = serializers.ChoiceField(source="state", choices=["SUBSCRIBED", "UNSUBSCRIBED", "NONE"])
    excludedFields = serializers.ListField(source="excluded_fields", child=serializers.CharField())

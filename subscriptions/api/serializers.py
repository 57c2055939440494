"""Wire formats of the subscriptions API (Emporix-compatible), one serializer per shape."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from subscriptions.endpoints import validators
from subscriptions.endpoints.validators import (
    DEFAULT_TIMEOUT, EVENTS_COUNT, MAX_DESCRIPTION, MAX_RETRIES, MAX_RETRY_WAIT, MAX_TIMEOUT, MAX_URL,
    MIN_TIMEOUT, RATE_LIMIT_RANGE,
)
from subscriptions.models import SCHEMA_TYPES
from subscriptions.core.changes import change_pair_problem
from subscriptions.core.ordering import ENVELOPE_ROOTS, MAX_POINTER
from subscriptions.core.payloads import ENVELOPE, FORMATS
from subscriptions.services import SUBSCRIBE, UNSUBSCRIBE, SubscriptionChange


class StrictCharField(serializers.CharField):
    """A JSON string, not a number coerced to one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Expected a string but got {type(data).__name__}.")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError(f"Expected an integer but got {type(data).__name__}.")
        return super().to_internal_value(data)


class NoExtraFieldsMixin:
    def to_internal_value(self, data):
        if isinstance(data, dict):
            extra = sorted(set(data) - set(self.fields))
            if extra:
                raise serializers.ValidationError({name: ["Unknown property."] for name in extra})
        return super().to_internal_value(data)


class MetadataVersionSerializer(NoExtraFieldsMixin, serializers.Serializer):
    version = StrictIntegerField(required=False, min_value=1)  # Emporix's MetadataForUpdate: minimum 1


class UpdateMetadataSerializer(serializers.Serializer):
    """An event subscription item's metadata: other properties (a GET's createdAt, modifiedAt sent back) are ignored,
    as Emporix's schema allows them."""

    version = StrictIntegerField(required=False, min_value=1)


class SubscriptionUpdateItemSerializer(serializers.Serializer):
    """Emporix's WebhookSubscriptionUpdateItem; properties it does not name are ignored, as its schema allows."""

    eventType = StrictCharField(max_length=200)
    action = serializers.ChoiceField(choices=[SUBSCRIBE, UNSUBSCRIBE], required=False)
    fieldsToSubscribe = serializers.ListField(child=StrictCharField(max_length=200), required=False, max_length=500)
    fieldsToUnsubscribe = serializers.ListField(child=StrictCharField(max_length=200), required=False, max_length=500)
    metadata = UpdateMetadataSerializer(required=False)

    def to_change(self):
        data = self.validated_data
        return SubscriptionChange(
            event_type=data["eventType"],
            action=data.get("action"),
            fields_to_subscribe=tuple(data.get("fieldsToSubscribe", ())),
            fields_to_unsubscribe=tuple(data.get("fieldsToUnsubscribe", ())),
            version=data.get("metadata", {}).get("version"),
        )


class ItemResultSerializer(serializers.Serializer):
    eventType = serializers.CharField()
    code = serializers.IntegerField()
    status = serializers.CharField()
    message = serializers.CharField(required=False)


class ProblemSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Where the problem is, e.g. `[0].metadata.version`; empty for the whole.")
    message = serializers.CharField()


class GatewayFaultDetailSerializer(serializers.Serializer):
    errorcode = serializers.CharField()


class GatewayFaultSerializer(serializers.Serializer):
    faultstring = serializers.CharField()
    detail = GatewayFaultDetailSerializer()


class ErrorSerializer(serializers.Serializer):
    """Emporix's ErrorMessage, with the problems' locations beside it (and on a 401, the gateway's `fault`)."""

    code = serializers.IntegerField()
    status = serializers.CharField(help_text='The HTTP reason phrase: "Bad Request", "Not Found", "Conflict".')
    message = serializers.CharField()
    details = serializers.ListField(child=serializers.CharField(), help_text='One per problem: "field: message".')
    problems = ProblemSerializer(many=True, help_text="The same problems, each with its field.")
    fault = GatewayFaultSerializer(required=False, help_text="On a 401 only: the API gateway's form of it.")


# --- custom event types ---------------------------------------------------------------------

EVENT_TYPE_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:\-]{0,199}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}],
                     "example": {"en": "Created", "de": "Erstellt"}})
class LocalizedStringField(serializers.Field):
    """A plain string (taken as English) or {language: text}."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = {"en": data}
        if not isinstance(data, dict) or not data:
            raise serializers.ValidationError("Expected a string or an object of language: text.")
        for lang, text in data.items():
            if not LANGUAGE_RE.match(lang):
                raise serializers.ValidationError(f"'{lang}' is not a language code.")
            if not isinstance(text, str) or len(text) > 1000:
                raise serializers.ValidationError(f"The '{lang}' text must be a string of at most 1000 characters.")
        return data

    def to_representation(self, value):
        return value


class EventTypeSerializer(NoExtraFieldsMixin, serializers.Serializer):
    type = StrictCharField(max_length=200)
    source = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=["event", "command"], default="event")
    name = LocalizedStringField()
    group = LocalizedStringField()
    description = LocalizedStringField(required=False)
    eventSchema = serializers.DictField(child=serializers.ChoiceField(choices=SCHEMA_TYPES), required=False)
    example = serializers.JSONField(required=False, allow_null=True)
    changes = serializers.JSONField(
        required=False, allow_null=True,
        help_text='For update events: where in data the new and the old object sit, {"new": "newObject", "old": '
                  '"oldObject"}; events of the type then carry `changed`, the paths whose values differ.',
    )
    routingKey = serializers.CharField(read_only=True, help_text="The routing-key form its producer publishes with.")
    appId = serializers.CharField(read_only=True, help_text="The AMQP appId its producer sets, when documented.")
    builtIn = serializers.BooleanField(read_only=True)

    def validate_type(self, value):
        if not EVENT_TYPE_KEY_RE.match(value):
            raise serializers.ValidationError(
                "An event type key starts with a letter and holds letters, digits, '_', '.', ':' or '-' (at most 200)."
            )
        return value

    def validate_eventSchema(self, value):
        if len(value) > 200:
            raise serializers.ValidationError("At most 200 root fields.")
        return value

    def validate_changes(self, value):
        if value is None:
            return None
        problem = change_pair_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def model_values(self):
        data = self.validated_data
        values = {"kind": data["kind"], "name": data["name"], "group": data["group"]}
        values["description"] = data.get("description", {})
        values["event_schema"] = data.get("eventSchema", {})
        values["example"] = data.get("example")
        values["changes"] = data.get("changes")
        return values


# --- webhook endpoints ----------------------------------------------------------------------

PAYLOAD_FORMAT_HELP = ("envelope: {id, type, timestamp, tenant, data}; data: the producer's body as the root (customPayload "
                       "pointers resolve against it); cloudevents: CloudEvents 1.0 structured mode.")


ORDERING_HELP = ('{"key": "/data/entryID"}: deliveries whose events share the value at this JSON pointer (into '
                 "{id, type, timestamp, tenant, data}) are sent one at a time, in event order (timestamp, then arrival); "
                 "a failing one holds back only the later ones of its key. An event with no value there is not ordered. "
                 "null: no ordering.")
ORDERING_SCHEMA = {
    "type": "object", "nullable": True, "additionalProperties": False, "required": ["key"],
    "properties": {"key": {"type": "string", "maxLength": MAX_POINTER, "example": "/data/entryID",
                           "pattern": f"^/({'|'.join(ENVELOPE_ROOTS)})(/([^~/]|~[01])*)*$"}},
}


@extend_schema_field(ORDERING_SCHEMA)
class OrderingField(serializers.JSONField):
    """An endpoint's `ordering`: the shape the schema declares; the rules are validators.clean_ordering's."""


class EndpointSerializer(NoExtraFieldsMixin, serializers.Serializer):
    """An endpoint on the wire. `secret` is write-never, read-once: only create and rotate-secret answers carry it."""

    # The rules are subscriptions/endpoints/validators.py's, the same the dashboard's and the admin's forms apply.
    # `source` names the model field, so validated_data holds model values. (The docstring is the schema's text.)

    id = serializers.UUIDField(read_only=True)
    url = StrictCharField(max_length=MAX_URL)
    method = serializers.ChoiceField(choices=["POST", "PUT", "PATCH"], default="POST")
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), default=dict,
                                    help_text="Extra request headers sent with every delivery, name: value.")
    events = serializers.ListField(child=StrictCharField(max_length=200), validators=EVENTS_COUNT)
    eventFilter = serializers.JSONField(source="event_filter", required=False, allow_null=True, default=None)
    customPayload = serializers.JSONField(source="custom_payload", required=False, allow_null=True, default=None)
    payloadFormat = serializers.ChoiceField(source="payload_format", choices=list(FORMATS), default=ENVELOPE,
                                            help_text=PAYLOAD_FORMAT_HELP)
    ordering = OrderingField(required=False, allow_null=True, default=None, help_text=ORDERING_HELP)
    enabled = serializers.BooleanField(default=True)
    disabledReason = serializers.CharField(source="disabled_reason", read_only=True)
    description = serializers.CharField(max_length=MAX_DESCRIPTION, allow_blank=True, default="")
    timeoutSeconds = serializers.IntegerField(source="timeout_seconds", min_value=MIN_TIMEOUT, max_value=MAX_TIMEOUT,
                                              default=DEFAULT_TIMEOUT)
    rateLimit = serializers.IntegerField(
        source="rate_limit", validators=RATE_LIMIT_RANGE, allow_null=True, required=False, default=None,
        help_text="At most this many deliveries a second to this endpoint, all deliver processes together; the others "
                  "wait (nothing is dropped or failed). null: unlimited.")
    retrySchedule = serializers.ListField(
        source="retry_schedule", child=serializers.IntegerField(), allow_null=True, required=False, default=None,
        help_text=f"Seconds to wait before each retry (the first try goes at once), instead of the hub's schedule; "
                  f"[] for no retry, null for the hub's. At most {MAX_RETRIES} waits, each 1 to {MAX_RETRY_WAIT} s.")
    metadata = MetadataVersionSerializer(required=False)

    def validate_url(self, value):
        return validators.clean_url(value)

    def validate_headers(self, value):
        return validators.clean_headers(value)

    def validate_events(self, value):
        return validators.clean_events(value, self.context["known_event_types"])

    def validate_eventFilter(self, value):  # noqa: N802 (the wire name)
        return validators.clean_event_filter(value)

    def validate_customPayload(self, value):  # noqa: N802 (the wire name)
        return validators.clean_custom_payload(value)

    def validate_rateLimit(self, value):  # noqa: N802 (the wire name)
        return validators.clean_rate_limit(value)

    def validate_retrySchedule(self, value):  # noqa: N802 (the wire name)
        return validators.clean_retry_schedule(value)
    def validate_ordering(self, value):
        return validators.clean_ordering(value)

    def model_values(self):
        return {name: value for name, value in self.validated_data.items() if name != "metadata"}


"""Dashboard forms. Endpoint and source rules are not repeated here: the forms collect model values and the
validator sets every door shares (subscriptions/endpoints/validators.py, subscriptions/broker/validators.py) judge them."""

import json
from datetime import timezone as dt_timezone

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from eventhub import json_limits
from subscriptions.broker.validators import MAX_BINDING_KEYS, clean_source
from subscriptions.core.amqp import EXCHANGE_TYPES
from subscriptions.delivery.sender import MAX_HEADERS
from subscriptions.endpoints.validators import (
    DEFAULT_TIMEOUT, MAX_DESCRIPTION, MAX_RATE_LIMIT, MAX_TIMEOUT, MAX_URL, MIN_TIMEOUT, clean_endpoint,
)
from dashboard.pages import localized
from dashboard.selectors import STATUS_CHOICES
from subscriptions.models import PayloadFormat, Source
from subscriptions.validation import located
from tenants.models import Role
from tenants.services import find_user

MAX_JSON_CHARS = 64 * 1024
# One row more than the rule allows (delivery/sender.py MAX_HEADERS): too many headers are refused in its words, not cut.
MAX_HEADER_ROWS = MAX_HEADERS + 1


def parse_json_text(text, label):
    """The JSON in a textarea, or None when blank; a ValidationError says where the syntax breaks."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_JSON_CHARS:
        raise forms.ValidationError(f"{label} is longer than {MAX_JSON_CHARS // 1024} KiB.")
    try:
        return json_limits.loads(text, refuse_nul=True)
    except json_limits.NestedTooDeeply as exc:
        raise forms.ValidationError(f"{label} is {exc}.")
    except json_limits.Unstorable as exc:
        raise forms.ValidationError([f"At {path}: {message}" if path else f"{label}: {message}" for path, message in exc.problems])
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")


def json_text(value):
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


class UTCDateTimeField(forms.DateTimeField):
    """A date-time read in UTC, as every stored time is. One with an offset can fall outside the years 1 to 9999 once
    in UTC (9999-12-31T23:59:59-14:00): a field error here, not an OverflowError from the database adapter."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt_timezone.utc)
        except (OverflowError, ValueError):
            raise forms.ValidationError("Is out of the range of date-times this hub can store (years 1 to 9999 in UTC).", code="invalid")


class EndpointForm(forms.Form):
    url = forms.CharField(label="URL", max_length=MAX_URL, widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks"}))
    method = forms.ChoiceField(choices=[("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH")], initial="POST")
    events = forms.MultipleChoiceField(required=False, label="Event types", widget=forms.SelectMultiple(attrs={"size": 10, "data-type-picker": ""}))
    patterns = forms.CharField(
        required=False, label="Wildcard patterns", widget=forms.Textarea(attrs={"rows": 2, "placeholder": "product.*", "data-patterns": ""}),
        help_text="One per line; * stands for any characters, e.g. product.* or *.deleted.",
    )
    event_filter = forms.CharField(required=False, label="eventFilter", widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code", "data-check-field": "event_filter"}),
                                   help_text='JSON: {"data.price": {"$gt": 100}}. Leave empty to deliver every selected event.')
    custom_payload = forms.CharField(required=False, label="customPayload", widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code", "data-check-field": "custom_payload"}),
                                     help_text='JSON whose leaves are JSON pointers into the event: {"id": "/data/id", "kind": "/type"}.')
    ordering = forms.CharField(required=False, label="ordering", widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code", "data-check-field": "ordering", "placeholder": '{"key": "/data/entryID"}'}),
                               help_text='JSON: {"key": "/data/entryID"}: events with the same value there are delivered one at a time, in order. Leave empty for no ordering.')
    payload_format = forms.ChoiceField(
        label="Payload format", choices=PayloadFormat.choices, initial=PayloadFormat.ENVELOPE, required=False,
        help_text="envelope: {id, type, timestamp, tenant, data}; data: the producer's body itself (customPayload pointers "
                  "resolve against it, e.g. /object/id); cloudevents: CloudEvents 1.0, structured mode.",
    )
    description = forms.CharField(required=False, max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 2}))
    timeout_seconds = forms.IntegerField(label="Timeout (seconds)", min_value=MIN_TIMEOUT, max_value=MAX_TIMEOUT, initial=DEFAULT_TIMEOUT)
    rate_limit = forms.IntegerField(label="Rate limit (deliveries a second)", required=False,
                                    widget=forms.NumberInput(attrs={"min": 1, "max": MAX_RATE_LIMIT}),
                                    help_text="All deliver processes together; the others wait, none is dropped. Empty: unlimited.")
    retry_schedule = forms.CharField(
        label="Retry schedule (seconds)", required=False, max_length=400, widget=forms.TextInput(attrs={"placeholder": "5, 60, 600"}),
        help_text="Seconds before each retry, comma-separated. Empty: the hub's schedule; none: no retry.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, event_types=(), headers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.known_keys = [t.key for t in event_types]
        groups = {}
        for t in event_types:  # grouped by source and group, the picker's sections (dashboard.js builds it from these)
            groups.setdefault(f"{t.source} · {localized(t.group)}", []).append((t.key, t.key))
        self.fields["events"].choices = list(groups.items())
        self.header_rows = [(name, value) for name, value in headers or [] if name.strip() or value.strip()]
        self.model_values = None

    @classmethod
    def initial_for(cls, endpoint):
        known_patterns = [p for p in endpoint.events if "*" in p]
        return {
            "url": endpoint.url, "method": endpoint.method, "events": [p for p in endpoint.events if "*" not in p],
            "patterns": "\n".join(known_patterns), "event_filter": json_text(endpoint.event_filter),
            "custom_payload": json_text(endpoint.custom_payload), "payload_format": endpoint.payload_format,
            "ordering": json_text(endpoint.ordering),
            "description": endpoint.description,
            "timeout_seconds": endpoint.timeout_seconds, "enabled": endpoint.enabled, "version": endpoint.version,
            "rate_limit": endpoint.rate_limit, "retry_schedule": schedule_text(endpoint.retry_schedule),
        }

    @staticmethod
    def headers_from(post):
        names, values = post.getlist("header_name")[:MAX_HEADER_ROWS], post.getlist("header_value")[:MAX_HEADER_ROWS]
        return list(zip(names, values + [""] * (len(names) - len(values))))

    def clean_event_filter(self):
        return parse_json_text(self.cleaned_data["event_filter"], "eventFilter")

    def clean_custom_payload(self):
        return parse_json_text(self.cleaned_data["custom_payload"], "customPayload")

    def clean_retry_schedule(self):
        text = self.cleaned_data["retry_schedule"].strip()
        if not text:
            return None
        if text.lower() == "none":
            return []
        try:
            return [int(part) for part in text.replace(",", " ").split()]
        except ValueError:
            raise ValidationError("Write whole numbers of seconds separated by commas, e.g. 5, 60, 600.")

    def clean_ordering(self):
        return parse_json_text(self.cleaned_data["ordering"], "ordering")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        patterns = [line.strip() for line in data.get("patterns", "").splitlines() if line.strip()]
        headers = {}
        for name, value in self.header_rows:
            if name.strip():
                headers[name.strip()] = value
        values = {
            "url": data["url"], "method": data["method"], "headers": headers, "events": list(data["events"]) + patterns,
            "event_filter": data["event_filter"], "custom_payload": data["custom_payload"], "enabled": data["enabled"],
            "ordering": data["ordering"],
            "payload_format": data.get("payload_format") or PayloadFormat.ENVELOPE,
            "description": data["description"], "timeout_seconds": data["timeout_seconds"],
            "rate_limit": data.get("rate_limit"), "retry_schedule": data.get("retry_schedule"),
        }
        try:
            self.model_values = clean_endpoint(values, known_event_types=self.known_keys)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                if field == "headers":  # the header rows are no one field: their problems head the form
                    messages = [f"Headers: {message}" for message in messages]
                self.add_error(None if field == "headers" else field, messages)
        return data


def schedule_text(schedule) -> str:
    """A retrySchedule as the form writes it."""
    if schedule is None:
        return ""
    return ", ".join(str(wait) for wait in schedule) if schedule else "none"


def json_problems(text, label, clean):
    """[{path, message}] for a JSON textarea as every door would judge it: syntax, storability, then `clean` (the
    field's cleaner from the validator set). [] when it is fine or empty."""
    try:
        value = parse_json_text(text, label)
    except ValidationError as exc:
        return [{"path": "", "message": m} for m in exc.messages]
    try:
        if value is not None:
            clean(value)
    except ValidationError as exc:
        return [{"path": path, "message": m} for path, m in located(exc)]
    return []


def example_filter(event_type, sample):
    """An eventFilter that the type's sample passes, on its first plain field."""
    for name, value in sample.items():
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return {f"data.{name}": {"$eq": value}}
    return {"type": event_type.key}


def example_payload(sample):
    """A customPayload picking up to three of the type's fields, plus the envelope's id and type."""
    picked = {name: f"/data/{name}" for name in list(sample)[:3]}
    return {"eventId": "/id", "eventType": "/type", **picked}


class SourceForm(forms.Form):
    """A broker source's fields; broker/validators.py's rules judge them and their messages land at the field."""

    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "shop"}))
    exchange = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"placeholder": "shop.events", "class": "mono"}))
    exchange_type = forms.ChoiceField(label="Exchange type", choices=[(t, t) for t in EXCHANGE_TYPES], initial="topic")
    binding_keys = forms.CharField(
        label="Binding keys", widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code", "placeholder": "product.#"}),
        help_text=f"One per line, at most {MAX_BINDING_KEYS}; words separated by '.', * stands for one word, # for any number.",
    )
    type_from = forms.ChoiceField(label="Event type from", choices=Source.TypeFrom.choices, initial=Source.TypeFrom.PROPERTY_OR_ROUTING_KEY)
    type_field = forms.CharField(required=False, max_length=200, label="Type field", widget=forms.TextInput(attrs={"placeholder": "eventType"}),
                                 help_text="Only with “a field of the JSON body”: the field holding the event type.")
    catch_all_type = forms.CharField(required=False, max_length=200, label="Catch-all type", widget=forms.TextInput(attrs={"list": "catalog-types"}),
                                     help_text="Given to messages whose type is not in the catalog; empty: they are dead-lettered.")
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    enabled = forms.BooleanField(required=False, initial=True)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, known_event_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.known_event_types = set(known_event_types)
        self.model_values = None

    @classmethod
    def initial_for(cls, source):
        return {"name": source.name, "exchange": source.exchange, "exchange_type": source.exchange_type,
                "binding_keys": "\n".join(source.binding_keys), "type_from": source.type_from, "type_field": source.type_field,
                "catch_all_type": source.catch_all_type, "description": source.description, "enabled": source.enabled,
                "version": source.version}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        values = {name: data[name] for name in self.fields if name != "version"}
        values["binding_keys"] = [line.strip() for line in data["binding_keys"].splitlines() if line.strip()]
        try:
            self.model_values = clean_source(values, known_event_types=self.known_event_types)
        except ValidationError as exc:
            self.add_error(None, exc)
        return data


class DeadLetterFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search", "placeholder": "Reason or routing key…"}))
    state = forms.ChoiceField(required=False, choices=[("", "all"), ("dead", "not yet re-driven"), ("redriven", "re-driven")])


class SubscriptionFieldsForm(forms.Form):
    """Which eventSchema fields are left out of deliveries of one type."""

    excluded = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    action = forms.ChoiceField(required=False, choices=[("", "keep"), ("SUBSCRIBE", "subscribe"), ("UNSUBSCRIBE", "unsubscribe")])

    def __init__(self, *args, event_type, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["excluded"].choices = [(name, name) for name in event_type.event_schema]


class PreviewForm(forms.Form):
    preview_type = forms.CharField(max_length=200, label="Event type", widget=forms.TextInput(attrs={"list": "catalog-types"}))
    preview_sample = forms.CharField(required=False, label="Sample data", widget=forms.Textarea(attrs={"rows": 5, "class": "code", "spellcheck": "false"}),
                                     help_text="The event's data as JSON; empty: the catalog example.")

    def clean_preview_sample(self):
        return parse_json_text(self.cleaned_data["preview_sample"], "The sample")


class ReplayForm(forms.Form):
    since = UTCDateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC")


class DeliveryFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "event id, webhook-id or #"}))
    endpoint = forms.ChoiceField(required=False)
    type = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "product.created"}))
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    since = UTCDateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = UTCDateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, endpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = [("", "any endpoint")] + [(str(e.pk), e.url) for e in endpoints]


class EventFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Event id", widget=forms.TextInput(attrs={"type": "search", "placeholder": "event id"}))
    type = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "product.*"}))
    since = UTCDateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = UTCDateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class MemberForm(forms.Form):
    who = forms.CharField(max_length=150, label="Email address or username",
                          widget=forms.TextInput(attrs={"placeholder": "ana@example.com or ana", "autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def clean_who(self):
        who = self.cleaned_data["who"].strip()
        if find_user(who) is None and "@" not in who:
            raise forms.ValidationError(f"There is no user '{who}'. Invite them by email address instead: they get a link to set a password.")
        if "@" in who and find_user(who) is None:
            EmailValidator()(who)
        return who

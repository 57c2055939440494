"""The Django admin, for staff: the same rules as the API and the dashboard (the validator sets and the services), so
the admin is no back door for a value the other doors refuse. Routing follows its saves at once (routing_version)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from subscriptions.broker import sources as source_services
from subscriptions.broker.validators import clean_source
from subscriptions.endpoints import services as endpoint_services
from subscriptions.endpoints.validators import MAX_TIMEOUT, MAX_URL, MIN_TIMEOUT, clean_endpoint
from subscriptions.models import Endpoint, EventSubscription, EventType, Source
from subscriptions.selectors import visible_event_types
from subscriptions.services import CONFLICT_MESSAGE, not_a_field_message, unknown_fields


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ["key", "source", "kind", "tenant", "position"]
    list_filter = ["source", "kind"]
    search_fields = ["key"]


class EventSubscriptionForm(forms.ModelForm):
    def clean_excluded_fields(self):
        names = self.cleaned_data["excluded_fields"]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValidationError("excluded_fields must be a list of field names.")
        event_type = self.cleaned_data.get("event_type")
        unknown = unknown_fields(event_type, names) if event_type else []
        if unknown:
            raise ValidationError(not_a_field_message(event_type, unknown[0]))
        return names


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin):
    form = EventSubscriptionForm
    list_display = ["tenant", "event_type", "state", "version", "modified_at"]
    list_filter = ["state", "tenant"]
    raw_id_fields = ["event_type"]


def known_event_types(tenant):
    return list(visible_event_types(tenant).values_list("key", flat=True))


class RuledForm(forms.ModelForm):
    """A change form whose values the resource's validator set judges, as the API's and the dashboard's are."""

    @staticmethod
    def clean_values(values, *, known_event_types) -> dict:
        raise NotImplementedError  # the resource's: clean_endpoint, clean_source

    def clean(self):
        data = super().clean()
        if not self.errors:
            values = {name: data[name] for name in self._meta.fields if name in data}
            try:
                data.update(self.clean_values(values, known_event_types=known_event_types(self.instance.tenant)))
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


class EndpointForm(RuledForm):
    clean_values = staticmethod(clean_endpoint)
    # The rules' words, not Django's ("Enter a valid URL.", "This field is required." for no events).
    url = forms.CharField(max_length=MAX_URL)
    events = forms.JSONField(required=False)
    timeout_seconds = forms.IntegerField(min_value=MIN_TIMEOUT, max_value=MAX_TIMEOUT)

    class Meta:
        model = Endpoint
        fields = ["url", "method", "headers", "events", "event_filter", "custom_payload", "payload_format", "ordering", "enabled",
                  "description", "timeout_seconds", "rate_limit", "retry_schedule"]


class SourceForm(RuledForm):
    clean_values = staticmethod(clean_source)

    class Meta:
        model = Source
        fields = ["name", "exchange", "exchange_type", "binding_keys", "type_from", "type_field", "catch_all_type",
                  "enabled", "description"]

    def validate_unique(self):
        super().validate_unique()
        try:  # the name is unique per tenant; the tenant is not in the form, so Django would skip the constraint
            self.instance.validate_constraints(exclude=self._get_validation_exclusions() - {"tenant"})
        except ValidationError as exc:
            self._update_errors(exc)


class ChangeThroughServiceAdmin(admin.ModelAdmin):
    """Change and delete only: creating belongs to the API and the dashboard, which show an endpoint's secret once.
    A change goes through the resource's service (compare-and-swap on the version, its side rules), like theirs."""

    readonly_fields = ["tenant", "version", "created_at", "modified_at"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in form.changed_data}
        if not values:
            return  # "Save" on an unchanged form: no new version for API clients to meet as a conflict
        try:  # only a race with another writer fails here: the form has judged the values
            result = self.update(type(obj).objects.get(pk=obj.pk), values, obj.version)
        except source_services.SourceNameTaken as exc:
            return self.message_user(request, str(exc), messages.ERROR)
        if isinstance(result, (endpoint_services.Conflict, source_services.Conflict)):
            self.message_user(request, CONFLICT_MESSAGE, messages.ERROR)


@admin.register(Endpoint)
class EndpointAdmin(ChangeThroughServiceAdmin):
    form = EndpointForm
    update = staticmethod(endpoint_services.update_endpoint)
    list_display = ["url", "tenant", "enabled", "version", "modified_at"]
    list_filter = ["enabled", "tenant"]
    readonly_fields = [*ChangeThroughServiceAdmin.readonly_fields, "disabled_reason", "failing_since", "circuit_state",
                       "circuit_since", "circuit_until", "consecutive_failures"]


@admin.register(Source)
class SourceAdmin(ChangeThroughServiceAdmin):
    form = SourceForm
    update = staticmethod(source_services.update_source)
    list_display = ["name", "exchange", "tenant", "enabled", "version"]
    list_filter = ["enabled", "tenant"]

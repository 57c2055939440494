"""Forms over the delivery and event log: an endpoint's recovery window, text in event bodies. The rules are the
services' (delivery/actions.check_recovery_window, selectors.event_text_problem), not repeated here."""

from django import forms

from dashboard.forms import EventFilterForm, UTCDateTimeField
from subscriptions.delivery.actions import BadWindow, check_recovery_window
from subscriptions.selectors import EVENT_TEXT_MAX, event_text_problem


class RecoverForm(forms.Form):
    since = UTCDateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC")
    until = UTCDateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC")

    def clean(self):
        data = super().clean()
        if "since" in data and "until" in data:
            try:
                check_recovery_window(data["since"], data["until"])
            except BadWindow as exc:
                self.add_error(exc.field, str(exc))
        return data


class EventSearchForm(EventFilterForm):
    text = forms.CharField(required=False, max_length=EVENT_TEXT_MAX, label="Text in body",
                           widget=forms.TextInput(attrs={"type": "search", "placeholder": "text in the body"}))

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if text and event_text_problem(text):
            raise forms.ValidationError(event_text_problem(text))
        return text

"""The portal links page's forms: a new link, and the origins that may frame the portal. The rules are
subscriptions/portal's: a form collects, the service judges, and its refusal lands at the field it names."""

from django import forms

from subscriptions.models import PortalRole
from subscriptions.portal.framing import MAX_FRAME_ORIGINS

DURATIONS = [(3600, "1 hour"), (24 * 3600, "1 day"), (3 * 24 * 3600, "3 days"), (7 * 24 * 3600, "7 days")]


class PortalLinkForm(forms.Form):
    all_endpoints = forms.BooleanField(required=False, label="Every endpoint, also those made later")
    endpoints = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    role = forms.ChoiceField(choices=PortalRole.choices, initial=PortalRole.VIEWER)
    expires_in = forms.TypedChoiceField(choices=DURATIONS, coerce=int, initial=24 * 3600, label="Valid for")

    def __init__(self, *args, endpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoints"].choices = [(str(e.pk), e.url) for e in endpoints]

    def service_arguments(self):
        """create_portal_link's keywords; the service judges them (PortalInvalid names the field)."""
        data = self.cleaned_data
        return {"endpoints": None if data["all_endpoints"] else data["endpoints"], "role": data["role"], "expires_in": data["expires_in"]}

    def add_service_errors(self, details):
        fields = {"endpoints": "endpoints", "role": "role", "expiresIn": "expires_in"}
        for detail in details:
            self.add_error(fields.get(detail["field"].split("[")[0]), detail["message"])


class FrameOriginsForm(forms.Form):
    origins = forms.CharField(
        required=False, label="Sites that may show the portal in an iframe",
        widget=forms.Textarea(attrs={"rows": 3, "class": "code", "spellcheck": "false", "placeholder": "https://shop.example.com"}),
        help_text=f"One origin a line, at most {MAX_FRAME_ORIGINS}; empty: no site may frame it.",
    )

    def origin_list(self):
        return [line.strip() for line in self.cleaned_data["origins"].splitlines() if line.strip()]

    def add_service_errors(self, details):
        for detail in details:  # frameOrigins[2] is the third origin given, the third non-blank line
            index = detail["field"].partition("[")[2].rstrip("]")
            self.add_error("origins", f"Origin {int(index) + 1}: {detail['message']}" if index.isdigit() else detail["message"])

"""Tenants, their dashboard members and their OAuth2 API clients."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

TENANT_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
TENANT_NAME_RULE = "a tenant name is 2 to 63 characters: a lower-case letter, then lower-case letters, digits or '-'"


def validate_tenant_name(value):
    if not isinstance(value, str) or not TENANT_NAME_RE.match(value):
        raise ValidationError(f"{value!r} is not a valid tenant name: {TENANT_NAME_RULE}.", code="invalid_tenant")


class Tenant(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[validate_tenant_name])
    default_language = models.CharField(max_length=16, default="en")
    # The tenant's languages (Emporix's project_lang): Accept-Language picks among them, others are ignored; empty:
    # every language the catalog has.
    languages = models.JSONField(default=list, blank=True)
    # Emporix's webhooksLimit: webhooks the hub sends for the tenant in a calendar month (UTC); past it, events are
    # still stored but their deliveries are recorded as not sent (subscriptions/emporix/limits.py). None: no limit.
    webhooks_limit = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    OWNER = "owner", "Owner"


ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="unique_membership")]

    def allows(self, role):
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class ApiClient(models.Model):
    """Binds an OAuth2 application to one tenant and caps the scopes its tokens may carry."""

    application = models.OneToOneField(settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="api_client")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_clients")
    allowed_scopes = models.TextField(help_text="Space-separated scopes this client may request.")
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def scope_set(self):
        return set(self.allowed_scopes.split())

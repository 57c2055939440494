"""Consumer portal links: a tenant lets someone without an account watch (and, as editor, act on) some endpoints.

Only a digest of a link's token is kept: the URL is shown once, when the link is made. See subscriptions/portal/.
"""

import uuid

from django.db import models

from subscriptions.models.endpoints import Endpoint, EndpointSecret
from tenants.models import Tenant


class PortalRole(models.TextChoices):
    VIEWER = "viewer", "viewer: health, deliveries and attempts"
    EDITOR = "editor", "editor: also retry, test send and secret rotation"


class PortalLink(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="portal_links")
    # SHA-256 (hex) of the token in the URL: a changed token matches no row, and the database never holds the token.
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    role = models.CharField(max_length=8, choices=PortalRole.choices, default=PortalRole.VIEWER)
    # True: every endpoint of the tenant, also those made later ("endpoints": null). False: only `endpoints`; when
    # they are all deleted, the link shows none (never all).
    all_endpoints = models.BooleanField(default=False)
    endpoints = models.ManyToManyField(Endpoint, blank=True, related_name="portal_links")
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A secret rotated through this link, to be shown once on the endpoint's page the rotation redirects to (the
    # portal keeps no session: it may be framed on another site, where cookies do not reach it).
    revealing = models.ForeignKey(EndpointSecret, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="portal_link_tenant_created")]

    def __str__(self):
        return f"portal link {self.pk} of {self.tenant_id} ({self.role})"

    __repr__ = __str__

    def state(self, now):
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"

    @property
    def allows_changes(self):
        return self.role == PortalRole.EDITOR


class PortalSettings(models.Model):
    """What a tenant's owner decides for all its portal links: the sites that may show them in an iframe."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="portal_settings")
    frame_origins = models.JSONField(default=list, blank=True)  # ["https://shop.example.com", ...]
    modified_at = models.DateTimeField()

    def __str__(self):
        return f"portal settings of {self.tenant_id}"

"""Emporix webhook configurations (the HTTP provider), each driving eventhub endpoints: one per eventsConfiguration
entry, and one for the root destinationUrl. The endpoints are the delivery state; these rows keep what Emporix's API
says that an endpoint cannot (entry ids and names, the JsonPath as written, what an entry inherits from the root)."""

from django.db import models

from subscriptions.models.endpoints import Endpoint
from tenants.models import Tenant


class EmporixConfig(models.Model):
    """The root of a tenant's configuration of one type (code "http"). Its secret key signs Emporix's way
    (core/signing.py) every target without a key of its own; it is never shown, only whether it exists."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="emporix_configs")
    code = models.CharField(max_length=32)
    active = models.BooleanField(default=True)
    destination_url = models.CharField(max_length=2048, blank=True, default="")
    secret_key = models.CharField(max_length=256, blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)  # {name: value}
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="unique_emporix_config_code")]

    def __repr__(self):  # never the secret key
        return f"<EmporixConfig {self.code} of tenant {self.tenant_id}>"

    __str__ = __repr__


class EmporixTarget(models.Model):
    """One eventsConfiguration entry (entry_id set) or the root destination (entry_id None), and its endpoint.
    Deleting the endpoint through the endpoints API removes the entry from the configuration too."""

    config = models.ForeignKey(EmporixConfig, on_delete=models.CASCADE, related_name="targets")
    endpoint = models.OneToOneField(Endpoint, on_delete=models.CASCADE, related_name="emporix_target")
    entry_id = models.UUIDField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=255, blank=True, default="")
    event_type = models.CharField(max_length=200, blank=True, default="")  # as written: PRODUCT.CREATED
    filter = models.TextField(blank=True, default="")  # the JsonPath as written; the endpoint holds its eventFilter
    # The entry's own values; empty: inherited from the config's root.
    destination_url = models.CharField(max_length=2048, blank=True, default="")
    secret_key = models.CharField(max_length=256, blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["config", "entry_id"], name="unique_emporix_entry")]

    def __repr__(self):
        return f"<EmporixTarget {self.entry_id or 'root'} of {self.config_id}>"

    __str__ = __repr__

"""The consumer portal app: its pages, and the log filter that keeps portal tokens out of the server's logs."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Consumer portal"

    def ready(self):
        from portal.log_masking import mask_portal_tokens_in_logs

        mask_portal_tokens_in_logs()

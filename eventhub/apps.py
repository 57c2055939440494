"""The project package as an app, so its system checks are registered."""

from django.apps import AppConfig


class EventhubConfig(AppConfig):
    name = "eventhub"
    verbose_name = "eventhub"

    def ready(self):
        from eventhub import checks, metrics  # noqa: F401  (registers the checks)

        metrics.connect()

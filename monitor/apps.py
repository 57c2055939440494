"""Monitor: streams broker traffic and the hub's own pipeline events to the live viewer over websockets."""

from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "monitor"
    verbose_name = "Live monitor"

    def ready(self):
        from monitor import receivers

        receivers.connect()

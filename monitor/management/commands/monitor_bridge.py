"""manage.py monitor_bridge: the live monitor's broker tap as its own process (scale-out)."""

import signal

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitor.bridge import Bridge


class Command(BaseCommand):
    help = (
        "Tap every enabled source on RabbitMQ and stream its messages to the live viewers. Needs AMQP_URL and the Redis "
        "channel layer (REDIS_URL); in the one-process default `manage.py serve` runs the bridge itself."
    )

    def add_arguments(self, parser):
        parser.add_argument("--amqp-url", default=None, help="default: AMQP_URL")

    def handle(self, amqp_url, **options):
        amqp_url = amqp_url or settings.AMQP_URL
        if not amqp_url:
            raise CommandError("set AMQP_URL (or pass --amqp-url): the bridge taps RabbitMQ.")
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            raise CommandError(
                "the channel layer is in-memory, so nothing this process sends would reach a browser; set REDIS_URL "
                "(or let `manage.py serve` run the bridge in-process)."
            )
        bridge = Bridge(amqp_url)
        signal.signal(signal.SIGTERM, lambda *_: bridge.stopping.set())
        self.stdout.write("live monitor bridge: tapping the enabled sources (Ctrl-C stops)")
        try:
            bridge.run()  # in this thread: the command is the bridge
        except KeyboardInterrupt:
            bridge.stopping.set()

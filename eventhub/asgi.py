"""ASGI entry point: HTTP through Django, websockets through Channels (the live monitor)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventhub.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from eventhub.heap import freeze_startup_objects  # noqa: E402
from monitor.access import allowed_hosts_origin_validator  # noqa: E402
from monitor.routing import websocket_urlpatterns  # noqa: E402
from subscriptions.api.events_fast import FastIngest  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Publishing events (POST /webhook/{tenant}/events) is answered before Django when it can be: see events_fast.
        "http": FastIngest(django_asgi_app),
        # A browser's Origin must be one of ALLOWED_HOSTS; a client sending none (a script) goes on to the auth check.
        "websocket": allowed_hosts_origin_validator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

freeze_startup_objects()  # the loaded application is long-lived: no full collection walks it again (eventhub/heap.py)

"""Websocket routes of the live monitor."""

from django.urls import re_path

from monitor.consumers import MonitorConsumer

websocket_urlpatterns = [
    re_path(r"^ws/monitor/(?P<tenant>[a-z][a-z0-9-]{1,62})/$", MonitorConsumer.as_asgi()),
]

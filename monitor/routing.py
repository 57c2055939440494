"""Websocket routes of the live monitor (the consumer arrives with the live-monitor issue)."""

websocket_urlpatterns = []

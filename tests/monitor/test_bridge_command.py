"""manage.py monitor_bridge refuses to run where its items could reach nobody."""

import pytest
from django.core.management import CommandError, call_command


def test_without_a_broker_url_it_says_what_to_set(settings):
    settings.AMQP_URL = None
    with pytest.raises(CommandError, match="AMQP_URL"):
        call_command("monitor_bridge")


def test_with_the_in_memory_layer_it_says_that_items_would_not_leave_the_process(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with pytest.raises(CommandError, match="REDIS_URL"):
        call_command("monitor_bridge", amqp_url="amqp://guest:guest@127.0.0.1:5672/")


@pytest.mark.parametrize("args, started", [((), True), (("--no-bridge",), False)])
def test_serve_starts_the_bridge_in_process_when_amqp_url_is_set_unless_told_not_to(settings, monkeypatch, args, started):
    import uvicorn

    from monitor import bridge

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append("serve"))
    monkeypatch.setattr(bridge, "start_in_background", lambda *a, **k: calls.append("bridge"))
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
    call_command("serve", *args)
    assert calls == (["bridge", "serve"] if started else ["serve"])
    settings.AMQP_URL = None
    calls.clear()
    call_command("serve")
    assert calls == ["serve"]

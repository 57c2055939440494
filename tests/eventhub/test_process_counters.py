"""A scaled-out `deliver` process serves its own Prometheus counters (--metrics-port): the web server's /metrics
cannot count attempts another process made, and an operator who scales out must still see them."""

import os
import socket
import subprocess
import urllib.request

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import free_port, metric_sample
from tests.subscriptions.test_worker_processes import SEED, SETTINGS, manage, run_manage, wait_until


@pytest.mark.timeout(900)  # two manage.py commands and a worker start: minutes on a busy machine
def test_a_deliver_process_serves_the_attempts_it_made(tmp_path, receiver):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "EVENTHUB_DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    run_manage(env, "migrate")
    run_manage(env, "shell", "-c", SEED % (receiver.url(), 3))
    port = free_port()
    worker = manage(env, "deliver", "--metrics-port", str(port), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert f"counters on http://127.0.0.1:{port}/metrics" in worker.stdout.readline()
        assert receiver.wait_for(3, timeout=120), "the worker sent nothing"

        def counters():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                return response.read().decode()

        assert wait_until(lambda: metric_sample(counters(), 'eventhub_delivery_attempts_total{outcome="succeeded"}') == 3, timeout=30), counters()
        text = counters()
        assert metric_sample(text, "eventhub_delivery_attempt_seconds_count") == 3
        assert "eventhub_deliveries_pending" not in text  # the database's gauges are the web server's to serve
    finally:
        worker.terminate()
        worker.wait(30)


def test_a_port_that_cannot_be_served_is_a_clear_error_before_anything_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot be served on 127.0.0.1:{port}"):
            call_command("deliver", "--metrics-port", str(port))
    with pytest.raises(CommandError, match="between 0 and 65535"):
        call_command("deliver", "--metrics-port", "70000")

"""Ordered delivery across two `deliver` processes at once, on SQLite (a file both share) and on PostgreSQL: one at a
time per key, in event order; a failing delivery holds back only the later ones of its key, other keys and unordered
events flow on, and once it is given up its key moves again. (The scenario: ordering_scenario.py.)"""

import os
import signal
import sqlite3
import subprocess

import pytest
from django.db import connection
from django.db.models import Count

from subscriptions.models import Delivery
from tests.subscriptions import ordering_scenario as scenario
from tests.subscriptions.test_worker_processes import manage, run_manage, wait_until

SETTINGS = "tests.subscriptions.ordering_worker_settings"


def run_two_workers(env, seed, statuses):
    """Start two `deliver` processes, seed once both are up (so both take part), wait until every delivery is done."""
    workers = [manage(env, "deliver", "--concurrency", "8", "--batch", "4", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                      text=True) for _ in range(2)]
    try:
        started = [worker.stdout.readline() for worker in workers]
        assert all(line.startswith("deliver: concurrency") for line in started), started
        seed()
        done = wait_until(lambda: statuses() == scenario.expected_statuses(), timeout=180)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=30)[0] for worker in workers]
    assert done, (statuses(), outputs)
    assert all("stopped after" in out for out in outputs), outputs
    assert all(int(out.rsplit("stopped after", 1)[1].split()[0]) > 0 for out in outputs), outputs  # both sent


@pytest.mark.timeout(1200)  # migrate and seed run as commands first: minutes on a busy machine
def test_two_workers_on_sqlite_deliver_each_key_in_order_one_at_a_time(tmp_path, receiver):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "EVENTHUB_DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    receiver.script = scenario.Script()
    run_manage(env, "migrate")
    seed = f"from tests.subscriptions.ordering_scenario import seed; seed({receiver.url()!r})"

    def statuses():
        with sqlite3.connect(tmp_path / "eventhub.sqlite3") as db:
            return dict(db.execute("select status, count(*) from subscriptions_delivery group by status").fetchall())

    run_two_workers(env, lambda: run_manage(env, "shell", "-c", seed), statuses)
    scenario.check(receiver.received)


@pytest.mark.postgres
@pytest.mark.timeout(600)
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgresql_deliver_each_key_in_order_one_at_a_time(receiver):
    receiver.script = scenario.Script()
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": url}

    def statuses():
        return dict(Delivery.objects.values_list("status").annotate(n=Count("id")))

    run_two_workers(env, lambda: scenario.seed(receiver.url()), statuses)
    scenario.check(receiver.received)

"""After PostgreSQL restarts, every idle connection in a process's pool is dead: the first request after it still gets
a working connection at once (eventhub/postgresql/base.py), not after psycopg_pool's back-off per dead one."""

import threading
import time

import pytest
from django.db import connection, connections

from tests.conftest import restart_other_sessions

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_first_query_after_a_restart_gets_a_working_connection_without_waiting():
    pool = connection.pool
    busy = [pool.getconn() for _ in range(4)]  # a busy moment: four connections, idle in the pool once it is over
    for conn in busy:
        pool.putconn(conn)
    assert restart_other_sessions() >= 4
    answer = {}

    def first_request():  # a request thread: a connection of its own, borrowed from the pool
        started = time.monotonic()
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1")
                answer["value"] = cursor.fetchone()[0]
        finally:
            answer["seconds"] = time.monotonic() - started
            connections["default"].close()

    thread = threading.Thread(target=first_request)
    thread.start()
    thread.join(30)
    assert answer.get("value") == 1 and answer["seconds"] < 1.0, answer  # without the pool's check of all: 3-7 s

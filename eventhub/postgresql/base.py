"""Django's PostgreSQL backend, with one change to its connection pool: after a restart, one failed check, not many.

With a pool and CONN_HEALTH_CHECKS, each connection is checked when it is borrowed. When PostgreSQL restarts (an
upgrade, a failover), every idle connection in a process's pool is dead, and psycopg_pool meets them one borrow at
a time, sleeping between failed checks with back-off (0, 1, 2, 4 s ...): with a few idle connections the first
request after the restart waited seconds, and with more it ended in PoolTimeout (10 s) as a 500. Here the first
failed check has the pool check all its idle connections at once (psycopg_pool's ConnectionPool.check(), what its
maintainer advises after a disconnection): the dead ones are replaced together, and the borrow that met the first
one gets a new connection without a back-off.

(psycopg_pool takes the check as ConnectionPool(check=...), which Django fills in itself; the pool keeps it as
`_check`, replaced here once the pool is made. tests/eventhub/test_database_restart.py fails if that stops working.)"""

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        check = getattr(pool, "_check", None)
        if check is not None and not isinstance(check, _CheckAll):
            pool._check = _CheckAll(pool, check)  # two threads here at once both wrap the same check: the same result
        return pool


class _CheckAll:
    """A failed check of one connection checks all the idle ones: a round trip each (at most the pool's size), paid
    once by the borrow that met a dead connection, also when only that one had died (idle_session_timeout, a proxy)."""

    def __init__(self, pool, check):
        self.pool, self.check = pool, check

    def __call__(self, conn):
        try:
            self.check(conn)
        except Exception:
            self.pool.check()  # the others are most likely dead too: all of them now, not one per borrow
            raise

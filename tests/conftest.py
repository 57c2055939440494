"""Shared fixtures, and the rule for real servers: under CI a missing server fails the run, locally it skips."""

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tenants.scopes import SCOPES
from tenants.services import create_tenant, issue_token

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

SERVICE_URLS = {
    "rabbitmq": os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/",
    "redis": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
}


def _reachable(url, default_port):
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _missing(marker):
    """Why the server a marker needs is not usable here, or None."""
    if marker == "postgres":
        if connection.vendor != "postgresql":
            return "the default database is not PostgreSQL (set DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventhub)"
    elif marker == "rabbitmq":
        if not _reachable(SERVICE_URLS["rabbitmq"], 5672):
            return f"RabbitMQ is not reachable at {SERVICE_URLS['rabbitmq']}"
    elif marker == "redis":
        if not _reachable(SERVICE_URLS["redis"], 6379):
            return f"Redis is not reachable at {SERVICE_URLS['redis']}"
    elif marker == "browser":
        if not shutil.which("chromium"):
            return "Debian's chromium is not installed (apt-get install chromium)"
    return None


@pytest.fixture(autouse=True)
def _require_servers(request):
    for marker in ("postgres", "rabbitmq", "redis", "browser"):
        if request.node.get_closest_marker(marker):
            reason = _missing(marker)
            if reason and IN_CI:
                pytest.fail(f"CI must run this test, but {reason}", pytrace=False)
            if reason:
                pytest.skip(reason)


if IN_CI:
    # An optional import that skips locally is a failure under CI, like a missing server.
    _importorskip = pytest.importorskip

    def _import_or_fail(modname, *args, **kwargs):
        try:
            return _importorskip(modname, *args, **kwargs)
        except pytest.skip.Exception as exc:
            pytest.fail(f"CI must run this test, but {exc}", pytrace=False)

    pytest.importorskip = _import_or_fail


@pytest.fixture(params=["in-memory", pytest.param("redis", marks=pytest.mark.redis)])
def channel_layer(request, settings):
    """Runs a test on each channel layer production uses: in-memory (one process) and Redis (REDIS_URL; a fresh
    prefix per test, so nothing is shared with another test or another run)."""
    from channels.layers import channel_layers

    if request.param == "redis":
        import uuid

        config = {"hosts": [SERVICE_URLS["redis"]], "prefix": f"test-{uuid.uuid4().hex[:10]}"}
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": config}}
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield request.param
    channel_layers.backends.clear()


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Django's default hasher (PBKDF2, a million rounds) spends ~0.5 s on each password, and most tests log a new
    user in: test passwords use the fastest hasher, as Django's testing docs advise. Deployed settings keep PBKDF2."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counts live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def tenant(db):
    return create_tenant("acme")[0]


@pytest.fixture
def other_tenant(db):
    return create_tenant("globex")[0]


@pytest.fixture
def api_client_for():
    """api_client_for(tenant, *scopes) -> an APIClient carrying a bearer token with those scopes (default: all)."""

    def make(tenant, *scopes):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(tenant, list(scopes or SCOPES))}")
        return client

    return make


@pytest.fixture
def api(tenant, api_client_for):
    """A client of tenant `acme` with every scope."""
    return api_client_for(tenant)


@pytest.fixture
def receiver():
    """A real HTTP receiver on 127.0.0.1 (see tests/subscriptions/receivers.py); set `.script` to change answers."""
    from tests.subscriptions.receivers import Receiver

    server = Receiver().start()
    yield server
    server.stop()


def restart_other_sessions() -> int:
    """What a PostgreSQL restart does to every other session of the test database: terminated (how many). This
    process's pool then holds dead idle connections, as a web process's does after a restart; the first borrow that
    meets one has the pool check them all (eventhub/postgresql/base.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


def free_port() -> int:
    """A local port nothing listens on now (bound, read and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def metric_sample(text: str, name: str) -> float:
    """The value of one Prometheus sample (`name` with its labels) in an exposition text; 0.0 when absent."""
    lines = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

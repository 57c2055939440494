"""Liveness (/healthz), readiness (/readyz: database, broker and channel layer reachable) and /metrics."""

import threading
import time

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

from eventhub import metrics

CHECK_TIMEOUT = 2.0  # seconds per dependency; a probe must answer quickly even when one is down
CACHE_SECONDS = 5.0  # broker and Redis connections are not opened for every probe

_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def healthz(request):
    """The process is up and answering; says nothing of its dependencies."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """200 when every configured dependency answers, else 503 naming the one that does not."""
    checks = {
        "database": _check_database(),
        "broker": _cached("broker", _check_broker) if settings.AMQP_URL else "not configured",
        "channel_layer": _cached("redis", _check_redis) if settings.REDIS_URL else "in-memory",
    }
    ready = all(result in ("ok", "not configured", "in-memory") for result in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)


def metrics_view(request):
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


def _cached(name, check):
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    result = check()
    with _lock:
        _cache[name] = (now, result)
    return result


def _check_database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any driver error means "not ready"; the reason is for the operator
        return f"error: {type(exc).__name__}"


def _check_broker():
    import pika

    try:
        params = pika.URLParameters(settings.AMQP_URL)
        params.socket_timeout = CHECK_TIMEOUT
        params.blocked_connection_timeout = CHECK_TIMEOUT
        params.connection_attempts = 1
        params.stack_timeout = CHECK_TIMEOUT
        pika.BlockingConnection(params).close()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _check_redis():
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"

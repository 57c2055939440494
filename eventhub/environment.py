"""Reading the environment for eventhub/settings.py: typed values, the database, the channel layer and cache, logging.

A bad value is never fatal here: it is recorded in CONFIG_ERRORS (settings.CONFIG_ERRORS, reported by the system
checks in eventhub/checks.py), and a safe default is used, so `manage.py check` says what is wrong instead of a
traceback.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

CONFIG_ERRORS: list[tuple[str, str]] = []  # (setting, message) for eventhub.checks


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    CONFIG_ERRORS.append((name, f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off."))
    return default


def env_positive_ints(**names):
    """{setting: int} for each environment variable of `names` ({setting: variable}) that is set."""
    values = {}
    for setting, name in names.items():
        raw = os.environ.get(name, "").strip()
        if raw.isdigit() and int(raw) > 0:
            values[setting] = int(raw)
        elif raw:
            CONFIG_ERRORS.append((name, f"{name}={raw!r} is not a positive whole number."))
    return values


def secret_key(data_dir: Path) -> str:
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    # The embedded default keeps a generated key next to its database, so sessions survive restarts.
    path = data_dir / "secret_key"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()
    except OSError:
        return secrets.token_urlsafe(50)


def sqlite_url(data_dir: Path) -> str:
    """The embedded default's database: SQLite under the data directory."""
    return f"sqlite:///{data_dir / 'eventhub.sqlite3'}"


def database(url: str, data_dir: Path) -> dict:
    """DATABASES["default"] from DATABASE_URL (PostgreSQL or SQLite); the embedded default's SQLite when it cannot
    be used."""
    try:
        db = dj_database_url.parse(url, conn_max_age=0)
        if db["ENGINE"] not in ("django.db.backends.sqlite3", "django.db.backends.postgresql"):
            raise ValueError(f"engine {db['ENGINE']} is not supported; use postgres:// or sqlite://")
    except Exception as exc:  # reported by eventhub.checks; fall back so `check` can run and say so
        CONFIG_ERRORS.append(("DATABASE_URL", f"DATABASE_URL cannot be used: {exc}"))
        db = dj_database_url.parse(sqlite_url(data_dir))

    if db["ENGINE"] == "django.db.backends.sqlite3":
        data_dir.mkdir(parents=True, exist_ok=True)
        # WAL lets the web process read while the delivery worker writes; a busy timeout instead of
        # "database is locked" errors when both write at once.
        db.setdefault("OPTIONS", {}).update(
            {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
        )
        # Tests run on a file too, as the hub does: Django's default test database is in memory with a shared cache,
        # where one connection's read makes another's write fail at once ("database table is locked") instead of
        # waiting out the busy timeout, so threads that share the database (the worker's, a request's) failed there
        # in ways the hub never does.
        db.setdefault("TEST", {})["NAME"] = str(data_dir / f"{os.environ.get('TEST_DATABASE_NAME', 'test_eventhub')}.sqlite3")
    else:
        db.setdefault("TEST", {})["NAME"] = os.environ.get("TEST_DATABASE_NAME", "test_eventhub")
        # psycopg's pool: a request thread borrows an open connection instead of connecting (~5 ms) each time; with
        # health checks each is checked when borrowed, so one the server dropped (a restart) is replaced, not used.
        # max_size: a long-running thread keeps its connection, and one process may run many (web, the ingest's group
        # commit, the worker's database thread, the dispatcher's consumer, preparer and two committers): opened only
        # as threads need them.
        db.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": 16, "timeout": 10}
        db["CONN_HEALTH_CHECKS"] = True
        db["ENGINE"] = "eventhub.postgresql"  # Django's, whose pool checks every idle connection after a restart
    return db


def channel_layers(redis_url: str | None) -> dict:
    if redis_url:
        return {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [redis_url]}}}
    return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def caches(redis_url: str | None) -> dict:
    """One cache for every process when Redis is there (rate-limit counts), else this process' memory."""
    if redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": "eventhub"}}
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def rate_limits(raw):
    """EVENTHUB_RATE_LIMITS: "off", or "api=1200/minute,ingest=600/minute,token=30/minute" (a kind=off turns one off)."""
    from eventhub.conf import DEFAULTS

    limits = dict(DEFAULTS["RATE_LIMITS"])
    if raw is None or not raw.strip():
        return limits
    if raw.strip().lower() == "off":
        return {kind: None for kind in limits}
    for part in raw.split(","):
        kind, _, rate = part.strip().partition("=")
        number, _, period = rate.partition("/")
        if kind not in limits or not (rate == "off" or (number.isdigit() and period in {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"})):
            CONFIG_ERRORS.append(("EVENTHUB_RATE_LIMITS", f"EVENTHUB_RATE_LIMITS: {part.strip()!r} is not KIND=N/PERIOD or KIND=off with KIND one of {', '.join(limits)}."))
            continue
        limits[kind] = None if rate == "off" else rate
    return limits


def log_format() -> str:
    """LOG_FORMAT=json: one JSON object a line, for log shippers (failed delivery attempts and dead letters carry
    event_id, delivery_id, endpoint_id, tenant_id and outcome as fields); the default is plain text for terminals."""
    value = os.environ.get("LOG_FORMAT", "plain").strip().lower()
    if value not in ("plain", "json"):
        CONFIG_ERRORS.append(("LOG_FORMAT", f"LOG_FORMAT={value!r} is not plain or json."))
        return "plain"
    return value


def logging_config(formatter: str, level: str) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "filters": {"client_errors_without_traceback": {"()": "eventhub.log_filters.ClientErrorsWithoutTraceback"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": formatter}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "pika": {"level": "WARNING"},
            # oauthlib logs every issued access token at DEBUG: never below WARNING, whatever LOG_LEVEL says.
            "oauthlib": {"level": "WARNING"},
            # One line for a refused request (403, 404), not a traceback as if the hub had failed.
            "django.request": {"filters": ["client_errors_without_traceback"]},
            # Failed log-ins and lock-outs are WARNINGs (usernames and addresses masked); its INFO lines are chatter.
            "axes": {"level": "WARNING"},
        },
    }

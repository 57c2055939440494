"""The one accessor for eventhub's own settings (settings.EVENTHUB), with their defaults."""

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS = {
    # Deliver to loopback, link-local and private addresses (tests and the demo only).
    "ALLOW_PRIVATE_TARGETS": False,
    # Largest request body the API accepts, and the most items one list body may hold.
    "MAX_BODY_BYTES": 1024 * 1024,
    "MAX_BATCH_ITEMS": 1000,
    # Languages the catalog is localized in; the first is the fall-back of last resort.
    "LANGUAGES": ("en", "de", "nl"),
    # Requests per client (per tenant's API client; per address when unauthenticated), by kind. "n/second",
    # "n/minute", "n/hour" or "n/day"; None turns a limit off. Shared across processes when REDIS_URL is set.
    "RATE_LIMITS": {"api": "1200/minute", "ingest": "600/minute", "token": "30/minute"},
    # Log-in throttling (eventhub.login_throttle): wrong passwords for one account, from any address, and from one
    # address, for any accounts, that lock further log-ins of that account or from that address; each failure
    # counts until LOGIN_LOCK_SECONDS after the latest.
    "LOGIN_FAILURES_PER_ACCOUNT": 5,
    "LOGIN_FAILURES_PER_ADDRESS": 20,
    "LOGIN_LOCK_SECONDS": 15 * 60,
    # Days events (with their deliveries and attempts) and dead letters are kept; `manage.py prune` removes older
    # ones, never an event with a delivery still pending.
    "RETENTION_DAYS": 30,
    # Milliseconds all endpoints' eventFilters together may take for one event (costly $regex and $contains stop
    # when it is spent). An endpoint whose filter is still undecided then gets a failed delivery saying so, not sent.
    "MATCHING_BUDGET_MS": 50,
    # Delivery: seconds to wait before each try (the first is the first try); after the last, a delivery fails.
    "RETRY_SCHEDULE": (0, 5, 300, 1800, 7200, 18000, 36000, 36000),
    # Circuit breaker (delivery/health.py): this many failed attempts in a row open an endpoint's circuit (0: never);
    # its deliveries then wait, and after CIRCUIT_OPEN_SECONDS one probe is sent; each failed probe doubles the wait,
    # up to CIRCUIT_MAX_OPEN_SECONDS.
    "CIRCUIT_FAILURE_THRESHOLD": 5,
    "CIRCUIT_OPEN_SECONDS": 30,
    "CIRCUIT_MAX_OPEN_SECONDS": 3600,
    # A receiver's Retry-After (429, 503) is honoured up to this many seconds.
    "MAX_RETRY_AFTER_SECONDS": 3600,
    # An endpoint failing without a single success for this long is disabled (5 days).
    "DISABLE_AFTER_FAILING_SECONDS": 5 * 24 * 3600,
    # A claimed delivery is leased for its endpoint's timeout plus this margin; a worker killed mid-send loses
    # the lease and the delivery becomes due again (at-least-once).
    "DELIVERY_LEASE_MARGIN_SECONDS": 30,
    # How often an idle worker looks for due deliveries (it is also woken at once by events recorded in-process).
    "DELIVERY_POLL_SECONDS": 0.5,
    # Worker defaults: concurrent HTTP requests, and deliveries claimed per database round trip.
    "DELIVERY_CONCURRENCY": 50,
    "DELIVERY_BATCH": 100,
    # At most this many of a worker's requests go to one endpoint at once, so a receiver that hangs or crawls
    # cannot take every slot: the other endpoints' deliveries keep flowing.
    "DELIVERY_ENDPOINT_CONCURRENCY": 25,
    # Lifetime of tokens printed by `manage.py issue_token` (seconds).
    "CLI_TOKEN_EXPIRE_SECONDS": 365 * 24 * 3600,
    # Live monitor: bodies longer than this (bytes) are cut in the stream; the full event stays in the log.
    "MONITOR_BODY_LIMIT": 64 * 1024,
    # A websocket gets at most one frame per interval (seconds), and keeps at most this many unsent items.
    "MONITOR_BATCH_INTERVAL": 0.1,
    "MONITOR_CONNECTION_BUFFER": 1000,
    # An open websocket's access is judged again this often (seconds), with the handshake's own rule: a member
    # removed, a user deactivated, deleted or logged out, a token revoked or expired loses the stream within this.
    "MONITOR_RECHECK_SECONDS": 2.0,
    # The process-wide queue in front of the channel layer (publishers never wait; beyond these, drop and count).
    "MONITOR_QUEUE_MESSAGES": 10_000,
    "MONITOR_QUEUE_BYTES": 16 * 1024 * 1024,
    # How often the broker bridge re-reads the sources (seconds), and the longest wait between reconnects.
    "MONITOR_BRIDGE_REFRESH": 5.0,
    "MONITOR_BRIDGE_MAX_BACKOFF": 30.0,
    # Broker dispatch: the durable quorum work queue every dispatcher consumes (entrecode's workerQueue) and
    # the exchange/queue unconvertible messages go to, with the reason in the x-eventhub-reason header.
    "WORK_QUEUE": "eventhub.work",
    "DEAD_EXCHANGE": "eventhub.dead",
    "DEAD_QUEUE": "eventhub.dead",
    # Unacknowledged messages the broker may hand one dispatcher; a batch is committed at BATCH_SIZE messages or
    # after BATCH_MS, whichever comes first, then acknowledged with one multiple ack. BATCH_SIZE at most a quarter of
    # PREFETCH, so the next batch arrives while one is routed and two commit (broker/dispatch.py; one on SQLite).
    "PREFETCH": 1000,
    "BATCH_SIZE": 250,
    "BATCH_MS": 200,
    # How often a dispatcher re-reads sources and event types and re-binds the work queue (seconds).
    "RECONCILE_SECONDS": 5,
    # Reconnect back-off after a lost connection or a database error: doubles up to this, with jitter (seconds).
    "RECONNECT_MAX_SECONDS": 30,
    # Largest message body that can become an event, and how much of a dead letter's body is kept (bytes).
    "MAX_MESSAGE_BYTES": 1024 * 1024,
    "DEAD_LETTER_BODY_BYTES": 1024 * 1024,
}

_cache = None


def hub_settings():
    """EVENTHUB settings merged over DEFAULTS, computed once and refreshed when tests override them."""
    global _cache
    if _cache is None:
        merged = dict(DEFAULTS)
        merged.update(getattr(settings, "EVENTHUB", {}) or {})
        _cache = merged
    return _cache


def hub_setting(name):
    return hub_settings()[name]


def _reset(*, setting, **kwargs):
    global _cache
    if setting == "EVENTHUB":
        _cache = None


setting_changed.connect(_reset)

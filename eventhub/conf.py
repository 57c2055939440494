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
    # Lifetime of tokens printed by `manage.py issue_token` (seconds).
    "CLI_TOKEN_EXPIRE_SECONDS": 365 * 24 * 3600,
    # Broker dispatch: the durable quorum work queue every dispatcher consumes (entrecode's workerQueue) and
    # the exchange/queue unconvertible messages go to, with the reason in the x-eventhub-reason header.
    "WORK_QUEUE": "eventhub.work",
    "DEAD_EXCHANGE": "eventhub.dead",
    "DEAD_QUEUE": "eventhub.dead",
    # Unacknowledged messages the broker may hand one dispatcher; a batch is committed at BATCH_SIZE messages or
    # after BATCH_MS, whichever comes first, then acknowledged with one multiple ack. BATCH_SIZE at most half of
    # PREFETCH, so the next batch arrives while one commits.
    "PREFETCH": 500,
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

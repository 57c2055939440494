"""Settings for `manage.py deliver` subprocesses started by tests: local receivers, short leases, fast polling."""

from eventhub.settings import *  # noqa: F403

EVENTHUB = {
    **EVENTHUB,  # noqa: F405
    "ALLOW_PRIVATE_TARGETS": True,
    "RETRY_SCHEDULE": [0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    "DELIVERY_LEASE_MARGIN_SECONDS": 1,
    "DELIVERY_POLL_SECONDS": 0.1,
}

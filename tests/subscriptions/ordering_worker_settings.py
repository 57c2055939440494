"""Settings for the ordered-delivery `deliver` processes: worker_settings with retries enough that the failing key's
first delivery is still retrying when the other keys are through (it is given up by a 400, not by running out)."""

from tests.subscriptions.worker_settings import *  # noqa: F403

EVENTHUB = {**EVENTHUB, "RETRY_SCHEDULE": [0] + [0.3] * 200}  # noqa: F405

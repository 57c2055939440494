"""Logging filters named in settings.LOGGING."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx answer (a 403 for a role too low, a 404) is the client's error, not a fault of the hub: Django logs it
    with the exception that produced it, and this keeps its one WARNING line but drops the traceback."""

    def filter(self, record):
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True

"""A portal link's token is its credential and rides in the URL's path: the lines the web servers and Django log for a
request (uvicorn's access log, `runserver`'s, django.request's "Not Found: /portal/...") show it masked."""

import logging
import re

TOKEN_IN_PATH = re.compile(r"/portal/ehp_[A-Za-z0-9_-]+")
MASKED = "/portal/ehp_…"
# The loggers that write request paths: the ASGI servers' access logs and Django's request warnings.
PATH_LOGGERS = ("uvicorn.access", "uvicorn.error", "django.request", "django.server", "django.channels.server", "daphne.server")


def mask(value):
    return TOKEN_IN_PATH.sub(MASKED, value) if isinstance(value, str) and "/portal/" in value else value


class MaskPortalTokens(logging.Filter):
    """Rewrites a record's message, arguments and the request Django attaches (a JSON log writes it out as
    "<ASGIRequest: GET '/portal/...'>"); never drops a record."""

    def filter(self, record):
        record.msg = mask(record.msg)
        request = getattr(record, "request", None)
        if request is not None and "/portal/" in getattr(request, "path", ""):
            record.request = mask(repr(request))
        if isinstance(record.args, tuple):
            record.args = tuple(mask(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: mask(arg) for key, arg in record.args.items()}
        return True


_FILTER = MaskPortalTokens()


def mask_portal_tokens_in_logs():
    """Attach the filter to every logger that writes request paths. A logger's filters survive a later
    logging.config.dictConfig (uvicorn configures its loggers when it starts), which replaces handlers only."""
    for name in PATH_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)

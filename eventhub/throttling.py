"""Rate limits: per API client of a tenant (per address before authentication), from EVENTHUB["RATE_LIMITS"].

Counts live in Django's cache: Redis when REDIS_URL is set (one count across every web process), else the
process' memory. An exceeded limit is a 429 with Retry-After.
"""

from rest_framework.throttling import SimpleRateThrottle

from eventhub.conf import hub_setting


class ClientRateThrottle(SimpleRateThrottle):
    """Views choose the kind with `throttle_scope` ("api" unless they say otherwise, "ingest" for publishing)."""

    scope = "api"

    def __init__(self):
        # SimpleRateThrottle reads its rates once at import; ours follow the settings (and tests overriding them).
        pass

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", None) or type(self).scope
        self.rate = hub_setting("RATE_LIMITS").get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        principal = getattr(request, "user", None)
        tenant = getattr(principal, "tenant", None)
        ident = f"{tenant.pk}:{principal.client_id}" if tenant is not None else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

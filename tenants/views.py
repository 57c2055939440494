"""The OAuth2 token endpoint, rate-limited per client address (it is where secrets are guessed)."""

import math

from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import TokenView

from eventhub.throttling import ClientRateThrottle


@method_decorator(csrf_exempt, name="dispatch")
class RateLimitedTokenView(TokenView):
    throttle_scope = "token"

    def post(self, request, *args, **kwargs):
        throttle = ClientRateThrottle()
        if not throttle.allow_request(request, self):
            wait = math.ceil(throttle.wait() or 1)
            body = {"error": "rate_limited", "error_description": f"Too many token requests; try again in {wait} s."}
            return JsonResponse(body, status=429, headers={"Retry-After": str(wait)})
        return super().post(request, *args, **kwargs)

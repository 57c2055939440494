"""Login throttling with django-axes: wrong passwords lock an account, and an address, for a while.

Axes records each failed log-in (account, address) in the database, so every web process sees the same counts.
The LOGIN_FAILURES_PER_ACCOUNT-th failure for one account, from anywhere, locks the account; the
LOGIN_FAILURES_PER_ADDRESS-th from one address, for any accounts, locks the address (a higher limit: many people
may share one address). Failures count until LOGIN_LOCK_SECONDS after the latest. While locked, a log-in is
refused even with the right password: 429, Retry-After, and the login page saying why. Axes compares one count
with one limit; the handler below gives each lockout parameter its own.
"""

import math
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_parameters, get_client_username, get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone

from eventhub.conf import hub_setting


def account_failure_limit(request=None, credentials=None):
    """AXES_FAILURE_LIMIT: the account's limit; the address' limit is applied through LoginThrottleHandler."""
    return hub_setting("LOGIN_FAILURES_PER_ACCOUNT")


def lock_duration(request=None):
    """AXES_COOLOFF_TIME."""
    return timedelta(seconds=hub_setting("LOGIN_LOCK_SECONDS"))


def client_address(request):
    """AXES_CLIENT_IP_CALLABLE: the peer address as the ASGI server resolved it (see AXES_* in settings)."""
    return request.META.get("REMOTE_ADDR")


def _limit_for(filter_kwargs):
    """The failure limit of one lockout parameter: ip_address alone is the address' limit, anything else the account's."""
    if set(filter_kwargs) == {"ip_address"}:
        return hub_setting("LOGIN_FAILURES_PER_ADDRESS")
    return hub_setting("LOGIN_FAILURES_PER_ACCOUNT")


def lock_end(failures, *, limit, cool_off):
    """When a lock ends, or None if these failures do not reach the limit.

    `failures` are (time of the latest, count) pairs; each pair stops counting `cool_off` after its time, so the
    lock ends when enough of the oldest have aged out for the rest to fall below `limit`.
    """
    remaining = sum(count for _, count in failures)
    if remaining < limit:
        return None
    for time, count in sorted(failures):
        remaining -= count
        if remaining < limit:
            return time + cool_off
    raise AssertionError("unreachable: limit is at least 1")


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler, with a limit of its own for each lockout parameter (account, address)."""

    def _attempts_by_parameter(self, request, credentials):
        username = get_client_username(request, credentials)
        parameters = get_client_parameters(username, request.axes_ip_address, request.axes_user_agent, request, credentials)
        return zip(parameters, self.get_user_attempts(request, credentials))  # both in AXES_LOCKOUT_PARAMETERS' order

    def get_failures(self, request, credentials=None):
        # Axes locks when this reaches AXES_FAILURE_LIMIT (the account's limit): each parameter's count is shifted
        # so that it reaches that number exactly when the parameter reaches its own limit.
        account_limit = account_failure_limit()
        shifted = [
            (attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0) - _limit_for(kwargs) + account_limit
            for kwargs, attempts in self._attempts_by_parameter(request, credentials)
        ]
        return max(shifted, default=0)

    def locked_until(self, request, credentials=None):
        """When the lock on this login ends (the latest end among the parameters that are locked), or None."""
        cool_off = get_cool_off(request)
        ends = [
            lock_end(list(attempts.values_list("attempt_time", "failures_since_start")), limit=_limit_for(kwargs), cool_off=cool_off)
            for kwargs, attempts in self._attempts_by_parameter(request, credentials)
        ]
        return max((end for end in ends if end is not None), default=None)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the login page again, saying why and for how long, as 429 with Retry-After.

    The same page answers for /admin/login/: its form posts back to the address it was shown at.
    """
    if credentials is None:  # axes' async middleware passes them in the place of original_response
        credentials = getattr(request, "axes_credentials", None)
    handler = AxesProxyHandler.get_implementation()
    until = handler.locked_until(request, credentials) if isinstance(handler, LoginThrottleHandler) else None
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds())) if until else hub_setting("LOGIN_LOCK_SECONDS")
    minutes = math.ceil(seconds / 60)
    message = (
        "Too many failed log-ins for this account or from this address. "
        f"Log-in is paused; try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    username = get_client_username(request, credentials) or ""
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "locked_out": message,
        "next": request.POST.get("next", request.GET.get("next", "")),
    }
    response = render(request, "dashboard/login.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


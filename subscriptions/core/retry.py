"""What one delivery attempt's result means: succeeded, retry when, or give up (and whether to disable the endpoint).

Pure: the result's status code, headers, error and whether the SSRF guard refused it in; a Verdict out. The worker
applies it (subscriptions.delivery.worker); the schedule and the Retry-After bound are settings, passed in or read once.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from datetime import timedelta

# The values of subscriptions.models.DeliveryStatus (a TextChoices of these very strings): the core names no model.
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class Verdict:
    """What becomes of a delivery after one attempt."""

    status: str  # PENDING (retry at next_attempt_at), SUCCEEDED or FAILED
    next_attempt_at: object = None  # datetime when retrying
    error: str = ""  # last_error of the delivery ("" on success)
    disable_reason: str = ""  # non-empty: disable the endpoint (410 Gone)

    @property
    def outcome(self):
        """The attempt's outcome (signals.AttemptOutcome): succeeded, retrying or failed."""
        return "retrying" if self.status == PENDING else str(self.status)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def judge_attempt(result, attempts_made, now, schedule=None, max_retry_after=None) -> Verdict:
    """2xx succeeds; network errors, timeouts, 408, 429 and 5xx retry on the schedule; other statuses, and a target
    the SSRF guard refused, fail at once.

    `result` has status_code (None for no answer), headers, error and refused. `attempts_made` counts this attempt;
    schedule[n] is the wait before try n+1, so len(schedule) tries in all. A Retry-After (bounded by
    max_retry_after) postpones the retry, never hastens it. schedule and max_retry_after default to the settings
    RETRY_SCHEDULE and MAX_RETRY_AFTER_SECONDS.
    """
    if schedule is None or max_retry_after is None:
        from eventhub.conf import hub_setting

        schedule = hub_setting("RETRY_SCHEDULE") if schedule is None else schedule
        max_retry_after = hub_setting("MAX_RETRY_AFTER_SECONDS") if max_retry_after is None else max_retry_after
    code = result.status_code
    if code is not None and 200 <= code < 300:
        return Verdict(SUCCEEDED)
    if code == 410:
        reason = "The receiver answered 410 Gone: it no longer accepts webhooks."
        return Verdict(FAILED, error="HTTP 410 Gone.", disable_reason=reason)
    if result.refused:
        return Verdict(FAILED, error=f"{result.error} Not sent, not retried.")
    if code is not None and not (code >= 500 or code in RETRYABLE_STATUS):
        hint = " (redirects are not followed)" if 300 <= code < 400 else ""
        return Verdict(FAILED, error=f"HTTP {code}{hint}: not retried.")
    error = result.error or f"HTTP {code}."
    if attempts_made >= len(schedule):
        return Verdict(FAILED, error=f"{error} Gave up after {attempts_made} attempts.")
    wait = float(schedule[attempts_made])
    retry_after = None
    if code is not None:
        retry_after = parse_retry_after(next((v for k, v in (result.headers or {}).items() if k.lower() == "retry-after"), None))
    if retry_after is not None:
        wait = max(wait, min(retry_after, float(max_retry_after)))
    return Verdict(PENDING, next_attempt_at=now + timedelta(seconds=wait), error=error)

"""The delivery verdict (core.retry.judge_attempt) against the README's rules and the DEFAULT schedule, and the
endpoint's failing clock (delivery/health.update_endpoint_health) against the default 5 days.

README: "2xx is success. Network errors, timeouts, 408, 429 (honouring Retry-After) and 5xx are retried after 0 s,
5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then the delivery fails; other 4xx fail at once; 410 disables the
endpoint, and so does failing without a success for 5 days." Every other test overrides the schedule; these do not.
"""

import email.utils
import time
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from eventhub.conf import DEFAULTS
from subscriptions.core.retry import judge_attempt, parse_retry_after
from subscriptions.delivery.sender import SendResult
from subscriptions.models import DeliveryStatus

# Written from the README, not read from the code: the wait before try 1, 2, ... 8; after try 8 the delivery fails.
README_SCHEDULE = [0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def default_settings(settings):
    """No override of the schedule, Retry-After bound or disable delay: the shipped defaults."""
    settings.EVENTHUB = {}


def http(code, **headers):
    return SendResult(status_code=code, headers=headers, body="")


def network_error():
    return SendResult(error="Cannot connect to host: Connection refused.")


def timeout():
    return SendResult(error="Timed out after 10 s.", timed_out=True)


def wait_of(verdict):
    assert verdict.status == DeliveryStatus.PENDING, verdict
    return (verdict.next_attempt_at - NOW).total_seconds()


def test_the_shipped_schedule_is_the_one_the_readme_promises():
    assert list(DEFAULTS["RETRY_SCHEDULE"]) == README_SCHEDULE
    assert DEFAULTS["DISABLE_AFTER_FAILING_SECONDS"] == 5 * 24 * 3600


@pytest.mark.parametrize("attempts_made", range(1, 8))
def test_after_try_n_the_next_try_waits_the_schedules_wait_before_try_n_plus_1(attempts_made):
    verdict = judge_attempt(http(500), attempts_made, NOW)
    assert wait_of(verdict) == README_SCHEDULE[attempts_made]
    assert verdict.outcome == "retrying" and verdict.error == "HTTP 500." and not verdict.disable_reason


def test_the_waits_after_each_try_are_5s_5min_30min_2h_5h_10h_10h_then_failed():
    waits = [wait_of(judge_attempt(http(503), n, NOW)) for n in range(1, 8)]
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000]
    last = judge_attempt(http(503), 8, NOW)
    assert last.status == DeliveryStatus.FAILED and last.outcome == "failed" and last.next_attempt_at is None
    assert "Gave up after 8 attempts" in last.error


def test_a_delivery_is_tried_exactly_eight_times_in_all():
    tries = 1  # the first try, due at once (schedule[0] == 0)
    while judge_attempt(network_error(), tries, NOW).status == DeliveryStatus.PENDING:
        tries += 1
    assert tries == len(README_SCHEDULE) == 8


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_2xx_succeeds(code):
    verdict = judge_attempt(http(code), 1, NOW)
    assert verdict.status == DeliveryStatus.SUCCEEDED and verdict.outcome == "succeeded"
    assert verdict.error == "" and verdict.next_attempt_at is None and not verdict.disable_reason


def test_a_success_on_the_last_try_still_succeeds():
    assert judge_attempt(http(200), 8, NOW).status == DeliveryStatus.SUCCEEDED


@pytest.mark.parametrize("result", [http(408), http(429), http(500), http(502), http(503), http(504), http(599), network_error(), timeout()],
                         ids=["408", "429", "500", "502", "503", "504", "599", "network-error", "timeout"])
def test_retryable_results_wait_for_the_next_scheduled_try(result):
    verdict = judge_attempt(result, 2, NOW)
    assert wait_of(verdict) == 300 and not verdict.disable_reason
    assert verdict.error == (result.error or f"HTTP {result.status_code}.")


@pytest.mark.parametrize("code", [400, 401, 403, 404, 405, 409, 413, 422, 451, 499])
def test_other_4xx_fail_at_once_without_retry(code):
    verdict = judge_attempt(http(code), 1, NOW)
    assert verdict.status == DeliveryStatus.FAILED and verdict.next_attempt_at is None
    assert verdict.error == f"HTTP {code}: not retried." and not verdict.disable_reason


@pytest.mark.parametrize("code, error", [
    (100, "HTTP 100: not retried."),
    (300, "HTTP 300 (redirects are not followed): not retried."),
    (301, "HTTP 301 (redirects are not followed): not retried."),
    (302, "HTTP 302 (redirects are not followed): not retried."),
    (307, "HTTP 307 (redirects are not followed): not retried."),
    (308, "HTTP 308 (redirects are not followed): not retried."),
    (399, "HTTP 399 (redirects are not followed): not retried."),
])
def test_informational_and_redirect_answers_fail_at_once_redirects_saying_they_are_not_followed(code, error):
    verdict = judge_attempt(http(code), 1, NOW)
    assert verdict.status == DeliveryStatus.FAILED and verdict.next_attempt_at is None
    assert verdict.error == error


def test_410_fails_and_disables_the_endpoint_with_a_reason():
    verdict = judge_attempt(http(410), 1, NOW)
    assert verdict.status == DeliveryStatus.FAILED and verdict.error == "HTTP 410 Gone."
    assert verdict.disable_reason == "The receiver answered 410 Gone: it no longer accepts webhooks."


def test_a_target_the_guard_refused_fails_at_once_and_is_not_retried():
    verdict = judge_attempt(SendResult(error="Refused: 10.0.0.1 is a private address.", refused=True), 1, NOW)
    assert verdict.status == DeliveryStatus.FAILED and "not retried" in verdict.error and not verdict.disable_reason


# --- Retry-After: lengthens the wait, never shortens it, bounded by MAX_RETRY_AFTER_SECONDS (default 3600) -------


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_in_seconds_lengthens_the_wait(code):
    assert wait_of(judge_attempt(http(code, **{"Retry-After": "120"}), 1, NOW)) == 120  # schedule says 5 s


def test_retry_after_header_name_is_case_insensitive():
    assert wait_of(judge_attempt(http(429, **{"retry-after": "120"}), 1, NOW)) == 120


def test_retry_after_as_an_http_date_lengthens_the_wait():
    in_ten_minutes = email.utils.formatdate(time.time() + 600, usegmt=True)
    waited = wait_of(judge_attempt(http(429, **{"Retry-After": in_ten_minutes}), 1, NOW))
    assert 600 - 30 <= waited <= 600  # whole seconds in the header, and a generous bound for a busy machine


@pytest.mark.parametrize("attempts_made, retry_after", [(1, "0"), (1, "1"), (2, "10"), (3, "60"), (4, "600"), (5, "3600")])
def test_retry_after_never_makes_a_retry_sooner_than_the_schedule(attempts_made, retry_after):
    verdict = judge_attempt(http(429, **{"Retry-After": retry_after}), attempts_made, NOW)
    assert wait_of(verdict) == max(README_SCHEDULE[attempts_made], min(float(retry_after), 3600))
    assert wait_of(verdict) >= README_SCHEDULE[attempts_made]


def test_an_http_date_in_the_past_does_not_make_a_retry_sooner():
    yesterday = email.utils.formatdate(time.time() - 86400, usegmt=True)
    assert wait_of(judge_attempt(http(503, **{"Retry-After": yesterday}), 3, NOW)) == 1800


def test_retry_after_is_bounded_by_max_retry_after():
    assert wait_of(judge_attempt(http(429, **{"Retry-After": "86400"}), 1, NOW)) == 3600
    in_a_day = email.utils.formatdate(time.time() + 86400, usegmt=True)
    assert wait_of(judge_attempt(http(429, **{"Retry-After": in_a_day}), 1, NOW)) == 3600


def test_max_retry_after_never_shortens_the_schedule_either():
    # After try 6 the schedule says 10 h; a Retry-After of a day is cut to 1 h, which must not win over the 10 h.
    assert wait_of(judge_attempt(http(429, **{"Retry-After": "86400"}), 6, NOW)) == 36000


def test_the_bound_follows_the_setting(settings):
    settings.EVENTHUB = {"MAX_RETRY_AFTER_SECONDS": 60}
    assert wait_of(judge_attempt(http(429, **{"Retry-After": "600"}), 1, NOW)) == 60


@pytest.mark.parametrize("value", ["soon", "", "-5", "1.5e3", "Mon, 99 Foo 2024"])
def test_an_unreadable_retry_after_leaves_the_schedule(value):
    assert wait_of(judge_attempt(http(429, **{"Retry-After": value}), 1, NOW)) == 5


def test_an_http_date_is_read_against_the_given_clock_and_one_in_the_past_means_no_wait():
    at_noon = NOW.timestamp()
    assert parse_retry_after("Wed, 01 May 2024 12:10:00 GMT", now=at_noon) == 600.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=at_noon) == 0.0
    assert parse_retry_after(" 120 ") == 120.0 and parse_retry_after(None) is None


def test_a_schedule_or_bound_passed_in_wins_and_the_other_comes_from_the_settings(settings):
    settings.EVENTHUB = {"RETRY_SCHEDULE": [0, 60], "MAX_RETRY_AFTER_SECONDS": 600}
    assert wait_of(judge_attempt(http(500), 1, NOW, schedule=[0, 7])) == 7
    assert wait_of(judge_attempt(http(429, **{"Retry-After": "9999"}), 1, NOW, schedule=[0, 7])) == 600
    assert wait_of(judge_attempt(http(429, **{"Retry-After": "9999"}), 1, NOW, max_retry_after=90)) == 90
    assert wait_of(judge_attempt(http(500), 1, NOW, max_retry_after=90)) == 60
    assert wait_of(judge_attempt(http(429, **{"Retry-After": "9999"}), 1, NOW, schedule=[0, 7], max_retry_after=30)) == 30


def test_retry_after_does_not_keep_a_delivery_alive_past_its_last_try():
    verdict = judge_attempt(http(429, **{"Retry-After": "10"}), 8, NOW)
    assert verdict.status == DeliveryStatus.FAILED and "Gave up after 8 attempts" in verdict.error


# --- the 5-day rule: an endpoint failing without a success for 5 days is disabled ------------------------------


@pytest.fixture
def endpoint(tenant):
    from subscriptions.endpoints.services import create_endpoint

    return create_endpoint(tenant, {"url": "https://receiver.example/hook", "events": ["*"]})[0]


def health(endpoint, ok, now, gone=None):
    from subscriptions.delivery.health import Tally, update_endpoint_health

    tally = Tally(clock_runs=True)
    tally.add(ok, "" if ok else "HTTP 500.")
    return update_endpoint_health({endpoint.pk: tally}, gone or {}, now).disabled


@pytest.mark.django_db
def test_a_failure_starts_the_failing_clock_and_a_later_failure_keeps_its_start(endpoint):
    assert health(endpoint, False, NOW) == []
    health(endpoint, False, NOW + timedelta(days=1))
    endpoint.refresh_from_db()
    assert endpoint.failing_since == NOW and endpoint.enabled


@pytest.mark.django_db
def test_failing_just_under_5_days_keeps_the_endpoint_enabled(endpoint):
    health(endpoint, False, NOW)
    assert health(endpoint, False, NOW + timedelta(days=5) - timedelta(seconds=1)) == []
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""


@pytest.mark.django_db
def test_failing_for_5_days_without_a_success_disables_the_endpoint_with_the_reason(endpoint):
    health(endpoint, False, NOW)
    disabled = health(endpoint, False, NOW + timedelta(days=5))
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "more than 5 days" in endpoint.disabled_reason
    assert [(e.pk, reason) for e, reason in disabled] == [(endpoint.pk, endpoint.disabled_reason)]


@pytest.mark.django_db
def test_a_success_resets_the_clock_so_5_days_count_from_the_next_failure(endpoint):
    health(endpoint, False, NOW)
    health(endpoint, True, NOW + timedelta(days=4))
    health(endpoint, False, NOW + timedelta(days=4, hours=1))
    assert health(endpoint, False, NOW + timedelta(days=6)) == []  # 2 days since the clock restarted
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since == NOW + timedelta(days=4, hours=1)


@pytest.mark.django_db
def test_410_disables_at_once_whatever_the_clock(endpoint):
    disabled = health(endpoint, False, NOW, gone={endpoint.pk: "The receiver answered 410 Gone."})
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "The receiver answered 410 Gone." and len(disabled) == 1

"""The brief cache of accepted tokens (tenants.auth.cached_principal) that the fast ingest path reads: a token in use
is judged again in the background before its entry runs out, so the requests in flight never all fall back to
Django's request cycle together; a token no longer accepted leaves the cache at that re-check."""

import time

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from tenants import auth
from tenants.services import issue_token

pytestmark = pytest.mark.django_db(transaction=True)  # the re-check runs in a thread of its own, on its own connection


class Clock:
    def __init__(self):
        self.now = time.time()

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(auth, "time", clock)
    return clock


@pytest.fixture
def token(tenant, clock):
    token = issue_token(tenant, ["webhook.subscription_read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/webhook/acme/event-subscriptions").status_code == 200  # DRF accepted it: cached
    assert auth.cached_principal(token).tenant == tenant
    return token


def wait_for_rechecks():
    deadline = time.monotonic() + 10
    while auth._rechecks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not auth._rechecks


def test_a_token_in_use_is_judged_again_before_its_entry_runs_out(token, tenant, clock, django_assert_num_queries):
    clock.now += auth.TOKEN_CACHE_SECONDS * 0.4
    assert auth.cached_principal(token).tenant == tenant
    assert not auth._rechecks  # young entries are not re-checked
    clock.now += auth.TOKEN_CACHE_SECONDS * 0.2  # past half its life
    assert auth.cached_principal(token).tenant == tenant  # answered at once, and the re-check started
    wait_for_rechecks()
    clock.now += auth.TOKEN_CACHE_SECONDS * 0.6  # past the first entry's end: the re-check renewed it
    assert auth.cached_principal(token).tenant == tenant


def test_an_entry_not_used_in_its_second_half_runs_out(token, clock):
    clock.now += auth.TOKEN_CACHE_SECONDS + 0.01
    assert auth.cached_principal(token) is None
    assert not auth._rechecks


def test_a_token_revoked_elsewhere_leaves_the_cache_at_the_re_check(token, clock):
    # Another process revoked it: no signal reaches this one, so only the re-check can learn it.
    AccessToken.objects.update(expires=timezone.now() - timezone.timedelta(seconds=1))
    clock.now += auth.TOKEN_CACHE_SECONDS * 0.6
    assert auth.cached_principal(token) is not None  # within the documented bound, then judged again
    wait_for_rechecks()
    assert auth.cached_principal(token) is None


def test_a_change_during_a_re_check_is_not_overwritten_by_what_it_read_before(token, clock, monkeypatch):
    judge = auth._judge

    def judged_then_revoked(raw, uri=""):
        answer = judge(raw, uri)  # read while the token was still good
        auth.forget_cached_principals()  # what a revocation in this process does (post_save / post_delete)
        return answer

    monkeypatch.setattr(auth, "_judge", judged_then_revoked)
    clock.now += auth.TOKEN_CACHE_SECONDS * 0.6
    auth.cached_principal(token)
    wait_for_rechecks()
    assert auth.cached_principal(token) is None

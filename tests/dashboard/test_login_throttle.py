"""Log-in throttling: wrong passwords lock the account, and the address, for a while (django-axes)."""

from datetime import datetime, timedelta, timezone

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client

from eventhub.login_throttle import lock_end
from tenants.models import Membership, Role
from tenants.services import ensure_user

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass!"
ATTACKER, NEIGHBOUR = "203.0.113.7", "198.51.100.9"


@pytest.fixture
def ann(tenant):
    user, _ = ensure_user("ann", PASSWORD)
    Membership.objects.create(user=user, tenant=tenant, role=Role.VIEWER)
    return user


@pytest.fixture
def limits(settings):
    def set_limits(account=5, address=20, lock=900):
        settings.EVENTHUB = {**settings.EVENTHUB, "LOGIN_FAILURES_PER_ACCOUNT": account, "LOGIN_FAILURES_PER_ADDRESS": address, "LOGIN_LOCK_SECONDS": lock}

    return set_limits


def log_in(username, password, *, address=ATTACKER, path="/login/", client=None, **extra):
    return (client or Client()).post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


def is_locked_page(response):
    return response.status_code == 429 and b"Too many failed log-ins" in response.content and b'name="password"' in response.content


def retry_after(response):
    return int(response["Retry-After"])


def test_the_fifth_wrong_password_locks_the_account_with_429_a_message_and_retry_after_and_the_right_one_is_refused(ann):
    assert [log_in("ann", "wrong").status_code for _ in range(4)] == [200] * 4  # the form says the password is wrong
    fifth, sixth = log_in("ann", "wrong"), log_in("ann", "wrong")
    assert is_locked_page(fifth) and is_locked_page(sixth) and 890 <= retry_after(sixth) <= 900
    assert b"try again in 15 minutes." in sixth.content
    client = Client()
    right = log_in("ann", PASSWORD, client=client)
    assert is_locked_page(right) and b'value="ann"' in right.content
    assert client.get("/t/acme/").status_code == 302  # not logged in


def test_the_account_is_locked_from_every_address(ann):
    for _ in range(5):
        log_in("ann", "wrong", address=ATTACKER)
    assert is_locked_page(log_in("ann", PASSWORD, address=NEIGHBOUR))


def test_many_accounts_tried_from_one_address_lock_the_address_and_no_other(ann, limits):
    limits(account=5, address=8)
    assert [log_in(f"guess{n // 2}", "wrong").status_code for n in range(8)] == [200] * 7 + [429]  # 2 tries per account
    assert is_locked_page(log_in("ann", PASSWORD, address=ATTACKER))
    assert log_in("ann", PASSWORD, address=NEIGHBOUR).url == "/"  # ann herself, from elsewhere


def test_an_account_locked_elsewhere_leaves_other_accounts_on_that_address_alone(ann):
    bob, _ = ensure_user("bob", PASSWORD)
    for _ in range(5):
        log_in("bob", "wrong", address=NEIGHBOUR)
    assert is_locked_page(log_in("bob", PASSWORD, address=NEIGHBOUR))
    assert log_in("ann", PASSWORD, address=NEIGHBOUR).url == "/"


def test_a_forwarded_for_header_does_not_change_the_address_that_is_counted(ann, limits):
    limits(account=50, address=4)
    for n in range(4):
        log_in(f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert is_locked_page(log_in("ann", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200"))


def test_the_admin_log_in_is_throttled_too(ann):
    ensure_user("root", PASSWORD, is_staff=True, is_superuser=True)
    assert [log_in("root", "wrong", path="/admin/login/").status_code for _ in range(4)] == [200] * 4
    assert is_locked_page(log_in("root", "wrong", path="/admin/login/"))
    locked = log_in("root", PASSWORD, path="/admin/login/")
    assert is_locked_page(locked) and retry_after(locked) > 0
    assert b'action="' not in locked.content.split(b"<form")[1].split(b">")[0]  # the form posts back to /admin/login/


def test_the_lock_ends_when_retry_after_says_and_tries_while_locked_do_not_extend_it(ann):
    for _ in range(5):
        log_in("ann", "wrong")
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=10))  # ten minutes pass
    for _ in range(3):
        locked = log_in("ann", "wrong")
        assert is_locked_page(locked) and 290 <= retry_after(locked) <= 300
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=301))  # the rest of the lock
    assert log_in("ann", PASSWORD).url == "/"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_lock_holds_when_served_over_asgi_as_in_production(limits):
    """`serve` runs the ASGI handler, where axes' middleware takes its async path."""
    limits(account=2, lock=60)
    await sync_to_async(ensure_user)("ann", PASSWORD)
    client = AsyncClient()
    codes = [(await client.post("/login/", {"username": "ann", "password": "wrong"})).status_code for _ in range(2)]
    locked = await client.post("/login/", {"username": "ann", "password": PASSWORD})
    assert codes == [200, 429] and is_locked_page(locked) and 50 <= retry_after(locked) <= 60


def test_settings_change_the_limits_and_the_lock(ann, limits):
    limits(account=2, lock=60)
    assert log_in("ann", "wrong").status_code == 200
    log_in("ann", "wrong")
    locked = log_in("ann", PASSWORD)
    assert is_locked_page(locked) and 50 <= retry_after(locked) <= 60 and b"1 minute." in locked.content


T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
LOCK = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("failures", "limit", "end"),
    [
        ([], 5, None),
        ([(T0, 4)], 5, None),
        ([(T0, 5)], 5, T0 + LOCK),
        # Two addresses tried one account: the lock holds until the older row has aged out and the rest is below 5.
        ([(T0 + timedelta(minutes=2), 3), (T0, 3)], 5, T0 + LOCK),
        ([(T0, 1), (T0 + timedelta(minutes=1), 2), (T0 + timedelta(minutes=2), 5)], 5, T0 + timedelta(minutes=2) + LOCK),
    ],
)
def test_lock_end_is_when_enough_failures_have_aged_out(failures, limit, end):
    assert lock_end(failures, limit=limit, cool_off=LOCK) == end

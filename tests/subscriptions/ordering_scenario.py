"""One ordered-delivery scenario for `deliver` processes, on either database: what is published, and what the
receiver must have seen. Seeded in the test's own process (PostgreSQL: the test database) or by `manage.py shell`
(SQLite: a file the worker processes share).

Keys K0..K3 get six events each, some arriving after a later-stamped one of their key; BAD gets three, the first
of which its receiver refuses (503) until every other key is through, then gives up on (400); six events have no
key. Every answer takes DELAY seconds, so two deliveries of one key in flight at once would overlap.
"""

import json
from datetime import datetime, timedelta, timezone

GOOD_KEYS = ("K0", "K1", "K2", "K3")
PER_KEY = 6
BAD = "BAD"
DELAY = 0.03
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def events():
    """[(event id, entryID or None, seconds after T0)] in arrival order."""
    made = []
    for n in range(PER_KEY):
        for k, key in enumerate(GOOD_KEYS):
            # Every second event of a key is stamped before the one that arrived just ahead of it.
            seconds = 10 * n + k - (15 if n % 2 else 0)
            made.append((f"{key}-{n}", key, seconds))
        if n < 3:
            made.append((f"{BAD}-{n}", BAD, 10 * n + 9))
        made.append((f"U-{n}", None, 10 * n + 8))
    return made


def expected_order(key):
    """The key's event ids as they must be sent: by timestamp, then arrival."""
    mine = [(seconds, arrival, event_id) for arrival, (event_id, k, seconds) in enumerate(events()) if k == key]
    return [event_id for _, _, event_id in sorted(mine)]


def seed(url):
    from subscriptions.endpoints.services import create_endpoint
    from subscriptions.pipeline.recording import IncomingEvent, record_events
    from subscriptions.services import SubscriptionChange, apply_subscription_change
    from tenants.models import Tenant
    from tenants.services import create_tenant

    tenant = Tenant.objects.filter(name="acme").first() or create_tenant("acme")[0]
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": url, "events": ["product.created"], "timeout_seconds": 5, "ordering": {"key": "/data/entryID"}})
    record_events(tenant, [
        IncomingEvent("product.created", {"n": i} if key is None else {"entryID": key, "n": i}, id=event_id,
                      timestamp=T0 + timedelta(seconds=seconds))
        for i, (event_id, key, seconds) in enumerate(events())
    ])


class Script:
    """The receiver's answers: 503 for BAD's first event until every good key's deliveries succeeded, then 400."""

    def __init__(self):
        self.good_done = 0

    def __call__(self, record):
        event_id = json.loads(record.body)["id"]
        if event_id == f"{BAD}-0":
            return (400 if self.good_done >= len(GOOD_KEYS) * PER_KEY else 503), {}, "no", DELAY
        if event_id.split("-")[0] in GOOD_KEYS:
            self.good_done += 1
        return 200, {}, "ok", DELAY


def check(received):
    """What the receiver saw, judged: per key one at a time and in event order; the failing key held back only its own
    later events, until it was given up."""
    seen = [(json.loads(r.body)["id"], r.at) for r in received]
    for key in (*GOOD_KEYS, BAD):
        mine = [(event_id, at) for event_id, at in seen if event_id.split("-")[0] == key]
        for (_, earlier), (event_id, later) in zip(mine, mine[1:]):
            # The next of a key starts only after the previous answer (DELAY after it arrived) came back.
            assert later >= earlier + DELAY, f"{event_id} was sent while an earlier one of {key} was in flight"
        order = list(dict.fromkeys(event_id for event_id, _ in mine))  # BAD's first event is tried several times
        assert order == expected_order(key), (key, order)
    good_times = [at for event_id, at in seen if event_id.split("-")[0] in GOOD_KEYS]
    bad_head = [at for event_id, at in seen if event_id == f"{BAD}-0"]
    bad_rest = [at for event_id, at in seen if event_id.startswith(BAD) and event_id != f"{BAD}-0"]
    assert len(bad_head) >= 2 and bad_head[0] < max(good_times), "the other keys flowed while BAD's first event failed"
    assert min(bad_rest) > max(good_times) and min(bad_rest) > bad_head[-1], "BAD's later events waited until it was given up"
    assert sorted(event_id for event_id, _ in seen if event_id.startswith("U-")) == [f"U-{n}" for n in range(PER_KEY)]


def expected_statuses():
    return {"failed": 1, "succeeded": len(events()) - 1}

"""The delivery worker's scheduling as a small pure class: which claimed jobs start now, which go back, when to claim.

No database, no HTTP, no event loop: DeliveryWorker.run drives it with the loop's clock and carries out what it is
told (start these jobs; make this database round trip), so a test can drive it alone. The rules:

- at most `concurrency` requests in flight, at most `per_endpoint` to one endpoint;
- a job starts within `hold_limit` seconds of its claim or not at all: its lease is the endpoint's timeout plus
  twice that, so a request that starts in time ends inside its lease. One held longer (its endpoint busy) goes back
  to the database, due at once, instead of sitting out its lease where no other worker may take it;
- claim when at most half a batch is startable, asking for the rest of the batch, skipping the saturated endpoints;
  after a claim that found less than it asked for, claim again only after `poll_seconds` or a wake-up, or as soon
  as a request to an endpoint it skipped ends (what it left may be that endpoint's: one busy endpoint must not
  leave the worker waiting out the poll with its slots free);
- results the database could not take are kept and recorded with the next round trip (not when stopping: a stop
  does not wait for a database that is away).
"""

from __future__ import annotations

import collections
from typing import Any, NamedTuple


class RoundTrip(NamedTuple):
    """One database round trip to make: record `results`, release `release`, claim `wanted` (not of `saturated`)."""

    results: list  # Sent
    wanted: int
    release: list  # delivery ids claimed but not sent: due again at once
    saturated: set  # endpoint ids with every slot taken


class DeliverySchedule:
    def __init__(self, *, concurrency: int, per_endpoint: int, batch: int, poll_seconds: float, hold_limit: float):
        self.concurrency, self.per_endpoint, self.batch = concurrency, per_endpoint, batch
        self.poll_seconds, self.hold_limit = poll_seconds, hold_limit
        self.ready: collections.deque = collections.deque()  # claimed (leased), not yet sent, in claim order
        self.claimed_at: dict[int, float] = {}  # delivery id -> when its claim (and lease) began, while ready
        self.active: collections.Counter = collections.Counter()  # requests in flight per endpoint
        self.sending = 0  # requests in flight
        self.done: list = []  # results not yet handed to a round trip
        self.trip: RoundTrip | None = None  # the round trip under way
        self.idle_until = 0.0  # the last claim found less than it asked: claim again after this, or when woken
        self.skipped: set = set()  # the endpoints that short claim skipped as saturated: a slot freed there ends the wait
        self.sent_count = 0  # results recorded

    def start(self, now: float, stopping: bool = False) -> list[Any]:
        """The jobs to send now, in claim order; the others stay ready (their endpoint is full or their claim old)."""
        started, held = [], collections.deque()
        started_by = now - self.hold_limit
        while self.ready and self.sending < self.concurrency and not stopping:
            job = self.ready.popleft()
            if self.active[job.endpoint_id] >= self.per_endpoint or self.claimed_at[job.delivery_id] < started_by:
                held.append(job)
                continue
            del self.claimed_at[job.delivery_id]
            self.active[job.endpoint_id] += 1
            self.sending += 1
            started.append(job)
        held.extend(self.ready)
        self.ready = held
        return started

    def finished(self, sent) -> None:
        """A request ended (`sent.job` is the job start() gave out)."""
        endpoint_id = sent.job.endpoint_id
        self.active[endpoint_id] -= 1
        if not self.active[endpoint_id]:
            del self.active[endpoint_id]
        self.sending -= 1
        self.done.append(sent)
        if endpoint_id in self.skipped:  # the short claim may have left this endpoint's deliveries due
            self.skipped, self.idle_until = set(), 0.0

    def woken(self) -> None:
        """New deliveries were recorded: claim at the next chance, not after the idle wait."""
        self.idle_until = 0.0

    def plan(self, now: float, stopping: bool = False) -> RoundTrip | None:
        """The next round trip (call only when none is under way), or None when there is nothing to do."""
        assert self.trip is None, "a round trip is under way"
        saturated = {endpoint for endpoint, n in self.active.items() if n >= self.per_endpoint}
        release, keep, startable = [], collections.deque(), 0
        for job in self.ready:
            if stopping or now - self.claimed_at[job.delivery_id] > self.hold_limit:
                release.append(job.delivery_id)
                del self.claimed_at[job.delivery_id]
            else:
                keep.append(job)
                startable += job.endpoint_id not in saturated
        self.ready = keep
        claim = not stopping and now >= self.idle_until and startable <= self.batch // 2
        wanted = self.batch - startable if claim else 0
        if not (self.done or wanted or release):
            return None
        self.trip, self.done = RoundTrip(self.done, wanted, release, saturated), []
        return self.trip

    def trip_done(self, now: float, claimed: list, unrecorded: list, stopping: bool = False) -> None:
        """The round trip came back with the jobs it claimed and the results it could not record."""
        trip, self.trip = self.trip, None
        if not stopping:
            self.done[:0] = unrecorded
        self.sent_count += len(trip.results) - len(unrecorded)
        self.ready.extend(claimed)
        self.claimed_at.update((job.delivery_id, now) for job in claimed)
        if len(claimed) < trip.wanted:
            self.idle_until, self.skipped = now + self.poll_seconds, set(trip.saturated)

    def finished_stopping(self, stopping: bool) -> bool:
        """Stopping, and nothing left: no request in flight, no round trip under way or to make."""
        return stopping and self.trip is None and not self.sending

    def wait_seconds(self, now: float) -> float:
        """How long the loop may sleep when nothing wakes it."""
        if self.trip is None and self.idle_until:
            return max(0.0, self.idle_until - now)
        return self.poll_seconds

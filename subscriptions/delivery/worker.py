"""The delivery worker: claims due deliveries, sends them concurrently (signed at send time), records every attempt.

A claim sets a lease (the endpoint's timeout plus a margin); a worker killed mid-send simply lets the lease run out
and the delivery is due again: at-least-once, and receivers dedupe on the stable `webhook-id`. Claiming and
recording (the rows' side) live in subscriptions.delivery.claims; the rules (what a status code means, when to give
up) in subscriptions.core.retry.judge_attempt; the HTTP in subscriptions.delivery.sender.Sender. Database calls run
on one dedicated thread, never on the event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from datetime import UTC, datetime

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from eventhub.conf import hub_setting
from subscriptions.delivery.claims import Job, Sent, announced_after, claim_due, record_results
from subscriptions.delivery.schedule import DeliverySchedule
from subscriptions.delivery.sender import SendResult, Sender, build_request_headers
from subscriptions.models import Delivery
from subscriptions.signals import events_recorded

logger = logging.getLogger(__name__)

FULL_CLAIM_SECONDS = 5.0  # a worker claims from the start of the due deliveries at least this often (see _claim)

__all__ = ["DeliveryWorker", "Job", "claim_due", "deliver_now", "record_results", "start_in_background", "wake_workers"]


# --- HTTP side (async; no ORM) ---------------------------------------------------------------------------------


async def send_job(sender: Sender, job: Job) -> Sent:
    """Sign with the endpoint's current secrets at send time (webhook-timestamp = now) and send."""
    started_at = datetime.now(UTC)  # timezone.now() with USE_TZ (settings.py), without its settings lookup per send
    try:
        headers = build_request_headers(job.extra_headers, job.message_id, int(started_at.timestamp()), job.body, job.secrets, job.content_type)
        result = await sender.send(job.method, job.url, job.body, headers, job.timeout)
    except Exception as exc:  # a bug must not lose the delivery: it is recorded and retried like a network error
        logger.exception("delivery %s could not be sent", job.delivery_id)
        headers, result = {}, SendResult(error=f"Internal error while sending: {type(exc).__name__}")
    return Sent(job, started_at, headers, result)


async def send_jobs(jobs: list[Job], concurrency: int | None = None, allow_private: bool | None = None) -> list[Sent]:
    allow_private = hub_setting("ALLOW_PRIVATE_TARGETS") if allow_private is None else allow_private
    async with Sender(concurrency or hub_setting("DELIVERY_CONCURRENCY"), allow_private) as sender:
        return list(await asyncio.gather(*(send_job(sender, job) for job in jobs)))


def deliver_now(ids=None, limit: int | None = None) -> int:
    """Claim, send and record due deliveries (all of `ids`, or up to `limit`) in the calling thread; returns how many
    were sent. For the test-send API, management one-offs and tests; the long-running worker is DeliveryWorker."""
    jobs = claim_due(limit or hub_setting("DELIVERY_BATCH"), ids=ids)
    if not jobs:
        return 0
    # A fresh thread owns the event loop, so this works whether or not the caller already runs one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sent = pool.submit(asyncio.run, send_jobs(jobs)).result()
    record_results(sent)
    return len(sent)


# --- the long-running worker -----------------------------------------------------------------------------------

_running: set[DeliveryWorker] = set()
_running_lock = threading.Lock()


def wake_workers(**kwargs):
    """Wake every worker of this process at once (new deliveries); others find them on their next poll."""
    with _running_lock:
        workers = list(_running)
    for worker in workers:
        worker.wake()


events_recorded.connect(wake_workers, dispatch_uid="subscriptions.delivery.worker.wake_workers")


class DeliveryWorker:
    """Keeps up to `concurrency` requests in flight (at most `per_endpoint` to one endpoint), claiming up to `batch`
    deliveries per database round trip. Without a `batch`, DELIVERY_BATCH and at least twice `concurrency`: the
    schedule claims when half a batch is left to start, so a batch no larger than the requests in flight leaves the
    queue empty while they run (bench/deliver.py at --concurrency 100 --batch 100: 1,284 deliveries/s; claiming 200
    at a time, 3,288)."""

    def __init__(self, concurrency=None, batch=None, poll_seconds=None, allow_private=None, per_endpoint=None):
        self.concurrency = max(1, concurrency or hub_setting("DELIVERY_CONCURRENCY"))
        self.per_endpoint = max(1, min(self.concurrency, per_endpoint or hub_setting("DELIVERY_ENDPOINT_CONCURRENCY")))
        self.batch = max(1, batch) if batch else max(hub_setting("DELIVERY_BATCH"), 2 * self.concurrency)
        self.poll_seconds = poll_seconds or hub_setting("DELIVERY_POLL_SECONDS")
        self.allow_private = hub_setting("ALLOW_PRIVATE_TARGETS") if allow_private is None else allow_private
        self._schedule = None
        self._claim_after, self._full_claim_due = None, 0.0  # see _claim
        self._loop = None
        self._alarm = None
        self._woken = False  # new deliveries were recorded: claim at the next chance
        self._stopping = False

    def wake(self):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_wake)

    def _on_wake(self):
        self._woken = True
        self._alarm.set()

    def stop(self):
        """Finish the requests in flight, record them, and return from run(). Thread-safe."""
        self._stopping = True
        self.wake()

    async def run(self):
        """Sends from a local queue of claimed jobs while the database thread records results and claims the next
        batch in the background: the HTTP side never waits for the database, and each round trip serves many.
        What starts, what goes back and when to claim is DeliverySchedule's to say (delivery/schedule.py)."""
        # One alarm for everything the loop waits for (a send ending, the round trip ending, a wake-up, the poll
        # timer): asyncio.wait over every task in flight would add and remove a callback on each of them (up to
        # `concurrency`) at every turn, and a task and a timer made per turn for the wake-up; the profile showed them.
        alarm = self._alarm = asyncio.Event()
        loop = self._loop = asyncio.get_running_loop()
        database = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="deliver-db")
        with _running_lock:
            _running.add(self)
        schedule = self._schedule = DeliverySchedule(
            concurrency=self.concurrency, per_endpoint=self.per_endpoint, batch=self.batch, poll_seconds=self.poll_seconds,
            hold_limit=hub_setting("DELIVERY_LEASE_MARGIN_SECONDS") / 2,  # the lease is the timeout plus this margin
        )
        in_flight: set[asyncio.Task] = set()
        trip = None  # the database round trip under way (a future)

        def sent(task):
            in_flight.discard(task)
            schedule.finished(task.result())
            alarm.set()

        try:
            async with Sender(self.concurrency, self.allow_private, queue=False) as sender:  # the schedule caps
                while True:
                    alarm.clear()
                    for job in schedule.start(loop.time(), self._stopping):
                        task = asyncio.create_task(send_job(sender, job))
                        task.add_done_callback(sent)
                        in_flight.add(task)
                    if trip is None:
                        if self._woken:
                            self._woken = False
                            schedule.woken()
                        planned = schedule.plan(loop.time(), self._stopping)
                        if planned is not None:
                            trip = asyncio.ensure_future(self._database(database, self._cycle, *planned))
                            trip.add_done_callback(lambda _: alarm.set())
                        elif schedule.finished_stopping(self._stopping):
                            break
                    if not alarm.is_set():
                        timer = loop.call_later(schedule.wait_seconds(loop.time()), alarm.set)
                        await alarm.wait()
                        timer.cancel()
                    if trip is not None and trip.done():
                        claimed, unrecorded = trip.result()
                        schedule.trip_done(loop.time(), claimed, unrecorded, self._stopping)
                        trip = None
        finally:
            with _running_lock:
                _running.discard(self)
            database.submit(_close_connection).result()
            database.shutdown()

    @property
    def sent_count(self) -> int:
        """Results recorded so far."""
        return self._schedule.sent_count if self._schedule is not None else 0

    def _claim(self, wanted, skip_endpoints):
        """claim_due from where this worker's last claim ended, while that finds enough: the index entries below
        it belong to rows already sent (until vacuum removes them), and reading past them every time would cost
        more the longer the worker runs. When it finds too few, and at least every FULL_CLAIM_SECONDS, from the
        start: deliveries released, or whose lease ran out (a worker died), are found there."""
        now = time.monotonic()
        after = self._claim_after if now < self._full_claim_due else None
        jobs = claim_due(wanted, skip_endpoints=skip_endpoints, after=after)
        if after is None or len(jobs) < wanted:
            if after is not None:
                jobs += claim_due(wanted - len(jobs), skip_endpoints=skip_endpoints)
            self._full_claim_due = now + FULL_CLAIM_SECONDS
        keys = [job.claim_key for job in jobs if job.claim_key is not None]
        if keys:
            self._claim_after = max(keys)
        return jobs

    def _cycle(self, sent, wanted, release=(), skip_endpoints=()):  # a RoundTrip's fields, in order
        """Record, release, claim, in ONE transaction (one commit for the whole round trip); returns (claimed jobs,
        results left unrecorded)."""
        # The connection is kept across cycles (a new one per cycle costs more than the queries); it is closed
        # and reopened when a database call fails (see _database).
        if not sent and not release:
            return (self._claim(wanted, skip_endpoints) if wanted else []), []
        if release or any(item.job.ordered for item in sent):
            # The next delivery of a key this round trip frees (or one released) may sit below where the last claim
            # ended: look from the start (delivery/ordering.py).
            self._full_claim_due = 0.0
        try:
            with announced_after(transaction.atomic()):
                record_results(sent)
                if release:  # claimed but not sent (a stop, or a busy endpoint): due again at once, not after the lease
                    Delivery.objects.filter(pk__in=release).update(lease_until=None)
                return (self._claim(wanted, skip_endpoints) if wanted else []), []
        except (OperationalError, InterfaceError) as exc:  # away or busy: the transaction wrote nothing
            raise _Unrecorded(sent) from exc
        except DatabaseError:
            # Refused, not away: a result it will refuse again (a bug, a value it cannot store). Each goes on its own,
            # so that one loses only itself (sent again after its lease), not the batch's others, other tenants' too.
            logger.exception("delivery worker: the database refused a round trip's results; recording them one by one")
            _record_one_by_one(sent)
            return self._cycle([], wanted, release, skip_endpoints)

    async def _database(self, executor, function, *args):
        try:
            return await self._loop.run_in_executor(executor, function, *args)
        except Exception as exc:
            # The database is away (restart, network) or busy: results it could not take are kept and recorded in
            # the next cycle; what was claimed but not sent is due again after its lease (at-least-once).
            logger.exception("delivery worker: database call failed; retrying after %s s", self.poll_seconds)
            await self._loop.run_in_executor(executor, _close_connection)
            await asyncio.sleep(self.poll_seconds)
            return [], exc.sent if isinstance(exc, _Unrecorded) else []


def _record_one_by_one(sent):
    for at, item in enumerate(sent):
        try:
            with announced_after(transaction.atomic()):
                record_results([item])
        except (OperationalError, InterfaceError):
            raise _Unrecorded(sent[at:]) from None  # away after all: the rest waits for the next round trip, as usual
        except DatabaseError:
            logger.exception("delivery %s: its result cannot be recorded; it is sent again after its lease", item.job.delivery_id)


class _Unrecorded(Exception):
    """Sent results a database error kept from being recorded (nothing of them was written)."""

    def __init__(self, sent):
        super().__init__(f"{len(sent)} results not recorded")
        self.sent = sent


def _close_connection():
    connection.close()  # the calling thread's connection (resolved here, not where the call was scheduled)


def start_in_background(**options) -> DeliveryWorker:
    """The embedded default: a daemon thread running a worker on its own event loop, next to the web server."""
    worker = DeliveryWorker(**options)
    worker.thread = threading.Thread(target=asyncio.run, args=(worker.run(),), name="deliver-worker", daemon=True)
    worker.thread.start()
    return worker

"""Group commit for HTTP ingest: requests that arrive together share one transaction, each answered after its commit.

A request hands its tenant and parsed body to `committer().record(...)` and waits. One thread takes whatever has
arrived (when it was idle, it first waits up to WINDOW_SECONDS for company), judges each request on its own (a bad
one is refused alone, with the 400 the view would give), routes the good ones of each tenant together, and stores
all of them in ONE transaction: one commit, one WAL flush, for many requests. Each is answered only once that
commit returned, so a 202 still means committed.

When a statement of the shared transaction fails, the batch is stored again with one savepoint per request: the
request whose rows the database refuses is answered alone (500), the others are committed. When the commit itself
fails, nothing of the batch is stored and every request of it is answered 503 with Retry-After: sending it again
is safe (event ids are idempotency keys).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from eventhub.api import error_body
from subscriptions.pipeline.ingest import IngestError, parse_events
from subscriptions.pipeline.recording import Recorded, route_events, store_in_transaction, stored_in_one_statement
from subscriptions.pipeline.routing import tenant_routing

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 0.001  # an idle committer waits this long for more requests before it starts a transaction
MAX_REQUESTS = 256  # per transaction
RETRY_AFTER_SECONDS = 1
NOT_COMMITTED = ("The events could not be stored: the database did not commit. Nothing of this request was stored; "
                 "send it again (event ids make a repeat safe).")
NOT_STORED = "The events could not be stored; nothing of this request was stored."


@dataclass(frozen=True)
class Answer:
    """What the request is answered: an HTTP status, a JSON-able body and, for 503, Retry-After seconds."""

    status: int
    body: object
    retry_after: int | None = None


def accepted(results: list[Recorded]) -> Answer:
    return Answer(202, [{"id": r.event_id, "created": r.created, "deliveries": r.deliveries} for r in results])


def refused(exc: IngestError) -> Answer:
    return Answer(400, error_body(400, str(exc), exc.details))


def unavailable() -> Answer:
    return Answer(503, error_body(503, NOT_COMMITTED), RETRY_AFTER_SECONDS)


def failed() -> Answer:
    return Answer(500, error_body(500, NOT_STORED))


class _Request:
    __slots__ = ("tenant", "body", "future", "events", "answer")

    def __init__(self, tenant, body):
        self.tenant, self.body, self.future = tenant, body, Future()
        self.events = self.answer = None


class GroupCommitter:
    """One thread storing the requests handed to it, many per transaction. Thread-safe; starts on first use."""

    def __init__(self, window: float = WINDOW_SECONDS, max_requests: int = MAX_REQUESTS):
        self.window, self.max_requests = window, max_requests
        self.commits = self.requests = 0  # for tests and the benchmark
        self._waiting: deque[_Request] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    async def record(self, tenant, body) -> Answer:
        """Validate and store one request's events (a parsed JSON body) with whatever else arrives; its Answer."""
        return await asyncio.wrap_future(self.submit(tenant, body))

    def submit(self, tenant, body) -> Future:
        request = _Request(tenant, body)
        with self._ready:
            self._waiting.append(request)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="eventhub-group-commit", daemon=True)
                self._thread.start()
            self._ready.notify()
        return request.future

    def _run(self):
        while True:
            batch = self._take()
            try:
                commit_batch(batch)
            except Exception:  # a bug must not leave requests waiting forever, nor end the thread
                logger.exception("group commit failed; %d requests answered 503", len(batch))
                _close_connection()
                for request in batch:
                    request.answer = request.answer or unavailable()
            self.commits += 1
            self.requests += len(batch)
            for request in batch:
                if not request.future.cancelled():  # its client went away: stored all the same (ids make it safe)
                    request.future.set_result(request.answer)
            if not self._waiting:
                _close_connection()  # idle: hand the connection back (to the pool on PostgreSQL)

    def _take(self) -> list[_Request]:
        with self._ready:
            while not self._waiting:
                self._ready.wait()
            if len(self._waiting) == 1 and self.window:  # a lone request: others may be a moment behind it
                deadline = time.monotonic() + self.window
                while len(self._waiting) < self.max_requests and time.monotonic() < deadline:
                    self._ready.wait(deadline - time.monotonic())
            count = min(len(self._waiting), self.max_requests)
            return [self._waiting.popleft() for _ in range(count)]


def commit_batch(batch: list[_Request]) -> None:
    """Set every request's answer: validate each, route by tenant, store all in one transaction."""
    routings = {}
    for request in batch:
        try:
            routing = routings.get(request.tenant.pk) or routings.setdefault(request.tenant.pk, tenant_routing(request.tenant))
            request.events = parse_events(request.tenant, request.body, routing.known_types)
        except IngestError as exc:
            request.answer = refused(exc)
        except (OperationalError, InterfaceError):
            raise  # the database is away: every request of the batch is answered 503
        except Exception:
            logger.exception("ingest: a request could not be validated")
            request.answer = failed()
    valid = [r for r in batch if r.answer is None]
    if not valid:
        return
    try:
        routed = _route_by_tenant(valid, routings)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.warning("ingest: routing a batch failed; routing and storing its %d requests one by one", len(valid), exc_info=True)
        return _store_one_by_one(valid, routings)
    try:
        _store_together(routed)
    except _CommitFailed:
        for request in valid:
            request.answer = unavailable()
    except (OperationalError, InterfaceError):
        raise
    except DatabaseError:
        logger.warning("ingest: a shared transaction failed; storing its %d requests one by one", len(valid), exc_info=True)
        _close_connection_if_broken()
        _store_one_by_one(valid, routings)


class _CommitFailed(Exception):
    pass


def _route_by_tenant(valid: list[_Request], routings) -> list[tuple[object, list[_Request]]]:
    """[(RoutedEvents, its requests)]: one routing pass per tenant over all its requests' events."""
    by_tenant: dict[object, list[_Request]] = {}
    for request in valid:
        by_tenant.setdefault(request.tenant.pk, []).append(request)
    routed = []
    for pk, requests in by_tenant.items():
        incoming = [event for request in requests for event in request.events]
        routed.append((route_events(requests[0].tenant, incoming, routing=routings[pk]), requests))
    return routed


def _store_together(routed) -> None:
    """All in one transaction (or one statement, which is one); answers set only when it committed. _CommitFailed
    when the COMMIT of a shared transaction itself failed."""
    if len(routed) == 1 and stored_in_one_statement(routed[0][0]):
        # One tenant's batch on PostgreSQL is one statement (pipeline/postgres.py): run outside a transaction block it
        # is a transaction of its own, committed in its own round trip, without the BEGIN and COMMIT round trips
        # (psycopg sends BEGIN as a command of its own). It stores all or nothing: a DatabaseError here stored
        # nothing, and commit_batch stores the requests one by one, each in a savepoint, as after a failed statement.
        routed_events, requests = routed[0]
        for request, answer in _split(store_in_transaction(routed_events), requests):
            request.answer = answer
        return
    answers = []
    stored = False
    try:
        with transaction.atomic():
            for routed_events, requests in routed:
                results = store_in_transaction(routed_events)
                answers += _split(results, requests)
            stored = True
    except DatabaseError as exc:
        if stored:  # every statement went through: the commit failed, nothing is stored
            logger.warning("ingest: a shared commit failed; its requests are answered 503", exc_info=True)
            raise _CommitFailed() from exc
        raise
    for request, answer in answers:
        request.answer = answer


def _split(results: list[Recorded], requests: list[_Request]):
    """One answer per request, from the results of all its tenant's requests (in order, one per item)."""
    answers, start = [], 0
    for request in requests:
        end = start + len(request.events)
        answers.append((request, accepted(results[start:end])))
        start = end
    return answers


def _store_one_by_one(valid: list[_Request], routings) -> None:
    """Each request in a savepoint of one transaction: one refused by the database does not take the others along."""
    routed = []
    for request in valid:
        try:
            routed.append((request, route_events(request.tenant, request.events, routing=routings[request.tenant.pk])))
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("ingest: a request could not be routed")
            request.answer = failed()
    answers = []
    try:
        with transaction.atomic():
            for request, routed_events in routed:
                try:
                    with transaction.atomic():
                        answers.append((request, accepted(store_in_transaction(routed_events))))
                except DatabaseError:
                    logger.exception("ingest: the database refused the events of one request; the others are stored")
                    request.answer = failed()
    except DatabaseError:
        logger.warning("ingest: the commit of a batch failed; its requests are answered 503", exc_info=True)
        _close_connection_if_broken()
        answers = [(request, unavailable()) for request, _ in routed if request.answer is None]
    for request, answer in answers:
        request.answer = answer


def _close_connection():
    try:
        connection.close()
    except DatabaseError:
        pass


def _close_connection_if_broken():
    if connection.connection is not None and not connection.is_usable():
        _close_connection()


_committer = GroupCommitter()  # its thread starts with the first request


def committer() -> GroupCommitter:
    """This process' GroupCommitter."""
    return _committer

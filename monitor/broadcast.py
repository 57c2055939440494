"""The one place that sends to the live monitor's channel layer groups (`monitor.<tenant>`).

`publish()` is called from any thread (web requests, the dispatcher, the delivery worker, the broker bridge) and
never waits: it appends to a bounded process-wide queue and returns. A sender task on an event loop drains the queue
and calls `group_send`, several items of one tenant per call. When the queue is full the message is dropped and
counted, so the monitor can never slow the pipeline down.

Where the sender runs depends on the layer. A cross-process layer (Redis) gets a daemon thread with its own event
loop. The in-memory layer's queues belong to the event loop of the server that holds the websockets, so there the
sender runs on that loop: consumers call `attach()` when they connect; before any has, nobody in this process can
be listening and messages are not even queued.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from channels.layers import InMemoryChannelLayer, get_channel_layer

from eventhub.conf import hub_setting

logger = logging.getLogger(__name__)

KINDS = ("broker", "ingested", "delivery", "endpoint_disabled", "dead_letter")
# What one group_send carries at most: small enough for any layer, big enough to keep up at thousands per second.
GROUP_SEND_ITEMS = 200
GROUP_SEND_BYTES = 512 * 1024
CONSUMER_EVENT = "monitor.batch"  # the consumer's handler is monitor_batch


def group_name(tenant_name: str) -> str:
    return f"monitor.{tenant_name}"


def bounded_body(body, limit=None) -> dict:
    """{"body": text} for any body (bytes, str, JSON-able data), cut at `limit` bytes with {"truncated", "size"}.

    Bytes are decoded as UTF-8 with replacement characters: the broker's bytes are never trusted to be text.
    """
    limit = limit if limit is not None else hub_setting("MONITOR_BODY_LIMIT")
    if body is None:
        return {"body": ""}
    if isinstance(body, str):
        raw = body.encode("utf-8", "replace")
    elif isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
    else:
        raw = json.dumps(body, ensure_ascii=False, default=str, separators=(",", ":")).encode("utf-8", "replace")
    if len(raw) <= limit:
        return {"body": raw.decode("utf-8", "replace")}
    return {"body": raw[:limit].decode("utf-8", "replace"), "truncated": True, "size": len(raw)}


def make_message(kind: str, tenant_name: str, body=None, **fields) -> dict:
    """A monitor item: kind, ts (epoch ms), tenant, the given fields (None left out) and the bounded body."""
    message = {"kind": kind, "ts": int(time.time() * 1000), "tenant": tenant_name}
    message.update({key: value for key, value in fields.items() if value is not None})
    message.update(bounded_body(body))
    return message


@dataclass
class _Home:
    """The event loop the sender task runs on, and the event that wakes it."""

    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event
    task: asyncio.Task | None = None


@dataclass
class Stats:
    published: int = 0
    dropped: int = 0  # queue full: the pipeline went on, the monitor missed these
    unheard: int = 0  # in-memory layer and no websocket ever connected in this process
    sent: int = 0
    failed: int = 0  # group_send raised (e.g. Redis down)


@dataclass
class Broadcaster:
    max_messages: int = 10_000
    max_bytes: int = 16 * 1024 * 1024
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, dict, int]] = deque()
        self._queued_bytes = 0
        self._scheduled = False  # a wake-up is on its way or the sender is draining
        self._loop_home: _Home | None = None  # in-memory layer: the websocket server's loop
        self._viewers = 0  # websockets of this process attached and not yet detached
        self._thread_home: _Home | None = None  # cross-process layer: our own thread's loop

    # --- any thread -----------------------------------------------------------------------------
    def publish(self, tenant_name: str, message: dict) -> bool:
        """Queue a message for the tenant's viewers; False when it was dropped. Never blocks, never raises."""
        try:
            home = self._current_home()
            if home is None:
                self.stats.unheard += 1
                return False
            size = len(message.get("body") or "") + 256
            with self._lock:
                if len(self._queue) >= self.max_messages or self._queued_bytes + size > self.max_bytes:
                    self.stats.dropped += 1
                    return False
                self._queue.append((group_name(tenant_name), message, size))
                self._queued_bytes += size
                self.stats.published += 1
                wake = not self._scheduled
                self._scheduled = True
            if wake:
                home.loop.call_soon_threadsafe(home.wake.set)
            return True
        except Exception:  # a closed loop, a broken layer: the caller must never notice
            logger.exception("live monitor: could not queue a message")
            with self._lock:
                self._scheduled = False
            return False

    def heard(self) -> bool:
        """Whether something published now may reach a viewer, so that building the message is worth it: with the
        in-memory layer only while a websocket of this process is open; a cross-process layer's viewers are elsewhere."""
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            return self._viewers > 0 and self._current_home() is not None
        return True

    def _current_home(self) -> _Home | None:
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            home = self._loop_home
            return home if home is not None and _alive(home) else None
        home = self._thread_home
        return home if home is not None and _alive(home) else self._start_thread()

    def _start_thread(self) -> _Home:
        with self._lock:
            if self._thread_home is not None and _alive(self._thread_home):
                return self._thread_home
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            holder = {}

            def run():
                asyncio.set_event_loop(loop)
                holder["home"] = self._new_home(loop)
                loop.call_soon(ready.set)  # once the loop runs, so the home is seen alive
                loop.run_forever()

            threading.Thread(target=run, name="monitor-broadcast", daemon=True).start()
            ready.wait(5)
            self._thread_home = holder["home"]
            self._scheduled = False
            return self._thread_home

    # --- the sender's event loop ----------------------------------------------------------------
    def attach(self):
        """With the in-memory layer, run the sender on the calling (running) event loop unless it runs on a live one.

        Called by consumers when they connect; a cross-process layer keeps its own sender thread instead.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            self._viewers += 1
        if not isinstance(get_channel_layer(), InMemoryChannelLayer):
            return
        with self._lock:
            if self._loop_home is not None and _alive(self._loop_home):
                return
            self._loop_home = self._new_home(loop)
            self._scheduled = bool(self._queue)
            if self._scheduled:
                self._loop_home.wake.set()

    def detach(self):
        """A websocket that attached closed."""
        with self._lock:
            self._viewers = max(0, self._viewers - 1)

    def _new_home(self, loop) -> _Home:
        home = _Home(loop=loop, wake=asyncio.Event())
        home.task = loop.create_task(self._send_forever(home))
        return home

    async def _send_forever(self, home: _Home):
        while True:
            await home.wake.wait()
            home.wake.clear()
            while True:
                taken = self._take()
                if not taken:
                    break
                await self._send(taken)

    def _take(self) -> list[tuple[str, dict, int]]:
        with self._lock:
            if not self._queue:
                self._scheduled = False
                return []
            taken = [self._queue.popleft() for _ in range(min(len(self._queue), GROUP_SEND_ITEMS * 4))]
            self._queued_bytes -= sum(size for _, _, size in taken)
            return taken

    async def _send(self, taken):
        layer = get_channel_layer()
        by_group: dict[str, list[tuple[dict, int]]] = {}
        for group, message, size in taken:
            by_group.setdefault(group, []).append((message, size))
        for group, entries in by_group.items():
            chunk, chunk_bytes = [], 0
            for message, size in entries:
                if chunk and (len(chunk) >= GROUP_SEND_ITEMS or chunk_bytes + size > GROUP_SEND_BYTES):
                    await self._group_send(layer, group, chunk)
                    chunk, chunk_bytes = [], 0
                chunk.append(message)
                chunk_bytes += size
            await self._group_send(layer, group, chunk)

    async def _group_send(self, layer, group, items):
        try:
            await layer.group_send(group, {"type": CONSUMER_EVENT, "items": items})
            self.stats.sent += len(items)
        except Exception:
            self.stats.failed += len(items)
            logger.warning("live monitor: group_send to %s failed; %d items lost", group, len(items), exc_info=True)


def _alive(home: _Home) -> bool:
    return home.loop.is_running() and not home.loop.is_closed() and not (home.task and home.task.done())


_broadcaster: Broadcaster | None = None
_broadcaster_lock = threading.Lock()


def broadcaster() -> Broadcaster:
    global _broadcaster
    if _broadcaster is None:
        with _broadcaster_lock:
            if _broadcaster is None:
                _broadcaster = Broadcaster(hub_setting("MONITOR_QUEUE_MESSAGES"), hub_setting("MONITOR_QUEUE_BYTES"))
    return _broadcaster


def publish(tenant_name: str, message: dict) -> bool:
    """Send a monitor item to the viewers of `tenant_name`, from any thread, without waiting. False: dropped."""
    return broadcaster().publish(tenant_name, message)


def attach():
    broadcaster().attach()


def detach():
    broadcaster().detach()


def heard() -> bool:
    """Whether a monitor item published now may reach a viewer (see Broadcaster.heard)."""
    return broadcaster().heard()

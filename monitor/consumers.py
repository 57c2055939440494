"""The live monitor's websocket (/ws/monitor/<tenant>/): filters, batches and paces one tenant's monitor items.

Items arrive from the channel layer group (see broadcast.py) and go through the connection's filter into a bounded
buffer; a separate task sends the buffer as one frame. It coalesces only under load: a frame leaves as soon as items
wait, at most one per IDLE_FRAME_SHARE of MONITOR_BATCH_INTERVAL (a steady stream reaches the viewer within ~10 ms), but after a frame
of FULL_FRAME_ITEMS or more (a burst) the next one waits the whole MONITOR_BATCH_INTERVAL. A client that reads
slower than items arrive loses the OLDEST items and each frame says how many were dropped, so memory stays flat
whatever the rate. Frames sent to the client:

    {kind: "hello", tenant, filter, batchIntervalMs, bufferSize}
    {kind: "batch", items: [...], dropped: N}
    {kind: "filter", filter: {...}}      {kind: "paused"}      {kind: "resumed", skipped: N}
    {kind: "error", code, message, details: [{field, message}]}

Access is judged again every MONITOR_RECHECK_SECONDS by a task of its own (never per item, so the stream does not
wait on the database): a connection that would now be refused is closed with the code a new handshake would get
(4401: logged out, user deactivated or deleted, token revoked or expired; 4403: no longer a member, or the token
lost its scope or tenant), and 1011 if access could not be judged at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from eventhub.conf import hub_setting
from monitor import broadcast
from monitor.access import SUBPROTOCOL, refusal, refusal_now
from monitor.filters import PASS_ALL, FilterError, parse_filter

logger = logging.getLogger(__name__)

SHOWN = 500  # rows the viewer's table keeps (live.js MAX_ROWS)
MAX_CLIENT_MESSAGE = 8 * 1024  # characters; a filter is a few hundred
FULL_FRAME_ITEMS = 100  # a frame this big means load: the next one waits the whole batch interval
IDLE_FRAME_SHARE = 0.1  # after a smaller frame the next may leave this share of the batch interval later
ACCESS_UNKNOWN = 1011  # the periodic access check itself failed (e.g. the database is away): closed, not trusted


class MonitorConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.tenant_name = self.scope["url_route"]["kwargs"]["tenant"]
        self.flusher = self.rechecker = None
        code = await database_sync_to_async(refusal)(self.scope, self.tenant_name)
        if code is not None:
            await self.close(code=code)  # before accept: the handshake never completes
            return
        self.filter = PASS_ALL
        self.paused = False
        self.skipped = 0
        self.dropped = 0
        self.interval = hub_setting("MONITOR_BATCH_INTERVAL")
        self.buffer: deque[dict] = deque(maxlen=hub_setting("MONITOR_CONNECTION_BUFFER"))
        # What the viewer shows (its table keeps the newest SHOWN rows), numbered, so a new filter can say which of
        # them still pass and the viewer removes the rest: the filter's rule stays here, never copied into the page.
        self.sent: deque[dict] = deque(maxlen=SHOWN)
        self.sequence = 0
        self.ready = asyncio.Event()
        self.group = broadcast.group_name(self.tenant_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        broadcast.attach()
        offered = self.scope.get("subprotocols") or ()
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        await self.send_json(
            {
                "kind": "hello",
                "tenant": self.tenant_name,
                "filter": self.filter.describe(),
                "batchIntervalMs": round(self.interval * 1000),
                "bufferSize": self.buffer.maxlen,
            }
        )
        self.flusher = asyncio.create_task(self.flush_forever())
        self.rechecker = asyncio.create_task(self.recheck_forever())

    async def disconnect(self, code):
        if self.rechecker is not None:
            self.rechecker.cancel()
        if self.flusher is not None:
            self.flusher.cancel()
            broadcast.detach()
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # --- access, judged again while the connection is open -------------------------------------------
    async def recheck_forever(self):
        every = hub_setting("MONITOR_RECHECK_SECONDS")
        try:
            # Connections opened together (a deploy, a reconnect wave) spread their checks over the interval.
            await asyncio.sleep(random.uniform(0, every))
            while True:
                try:
                    code = await database_sync_to_async(refusal_now)(self.scope, self.tenant_name)
                except Exception:
                    logger.warning("live monitor: could not judge the access of %s; closing it", self.channel_name, exc_info=True)
                    code = ACCESS_UNKNOWN
                if code is not None:
                    return await self.end(code)
                await asyncio.sleep(every)
        except asyncio.CancelledError:
            pass
        except Exception:  # the socket went away while closing; disconnect() follows
            logger.debug("live monitor: closing %s failed", self.channel_name, exc_info=True)

    async def end(self, code):
        """Close from the server side: nothing more is sent once access is gone (disconnect() leaves the group)."""
        self.flusher.cancel()
        self.buffer.clear()
        await self.close(code=code)

    # --- from the channel layer -----------------------------------------------------------------
    async def monitor_batch(self, event):
        items = event.get("items") or ()
        passes = self.filter.passes
        if self.paused:
            self.skipped += sum(1 for item in items if passes(item))  # what the viewer would have seen
            return
        for item in items:
            if passes(item):
                if len(self.buffer) == self.buffer.maxlen:
                    self.dropped += 1  # the deque pushes the oldest out
                self.buffer.append(item)
        if self.buffer or self.dropped:
            self.ready.set()

    async def flush_forever(self):
        loop = asyncio.get_running_loop()
        next_allowed = 0.0
        try:
            while True:
                await self.ready.wait()
                wait = next_allowed - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.ready.clear()
                items, dropped = list(self.buffer), self.dropped
                self.buffer.clear()
                self.dropped = 0
                if not items and not dropped:
                    continue
                next_allowed = loop.time() + self.interval * (1 if len(items) >= FULL_FRAME_ITEMS else IDLE_FRAME_SHARE)
                items = [{**item, "seq": seq} for seq, item in enumerate(items, start=self.sequence + 1)]
                self.sequence += len(items)
                self.sent.extend(items)
                await self.send_json({"kind": "batch", "items": items, "dropped": dropped})
        except asyncio.CancelledError:
            pass
        except Exception:  # the socket went away mid-send; disconnect() follows
            logger.debug("live monitor: sending to %s stopped", self.channel_name, exc_info=True)

    # --- from the client ------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None or len(text_data) > MAX_CLIENT_MESSAGE:
            return await self.error("invalid_message", f"send JSON text frames of at most {MAX_CLIENT_MESSAGE} characters.")
        try:
            content = json.loads(text_data)
        except ValueError:
            return await self.error("invalid_message", "the message is not JSON.")
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        action = content.get("action") if isinstance(content, dict) else None
        if action == "filter":
            try:
                self.filter = parse_filter(content)
            except FilterError as exc:
                return await self.error("invalid_filter", "the filter was not applied.", exc.details)
            self.buffer.clear()  # what is waiting was chosen by the old filter
            kept = [item for item in self.sent if self.filter.passes(item)]
            self.sent = deque(kept, maxlen=SHOWN)
            await self.send_json({"kind": "filter", "filter": self.filter.describe(), "keep": [item["seq"] for item in kept]})
        elif action == "pause":
            self.paused = True
            await self.send_json({"kind": "paused"})
        elif action == "resume":
            skipped, self.skipped, self.paused = self.skipped, 0, False
            await self.send_json({"kind": "resumed", "skipped": skipped})
        else:
            await self.error("invalid_message", 'action must be "filter", "pause" or "resume".')

    async def error(self, code, message, details=()):
        await self.send_json({"kind": "error", "code": code, "message": message, "details": list(details)})

"""A real webhook receiver for tests: an aiohttp server on 127.0.0.1 (free port) in its own thread.

`script` decides each answer: a callable(request_record) -> (status, headers, body, delay_seconds). Every request is
kept (headers, body, times) and the peak of concurrent in-flight requests per webhook-id is tracked.
"""

import asyncio
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float

    @property
    def webhook_id(self):
        return self.headers.get("webhook-id")


@dataclass
class Receiver:
    script: object = None
    received: list = field(default_factory=list)
    in_flight: dict = field(default_factory=dict)
    max_in_flight_per_id: int = 0
    port: int = 0

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request):
        record = Received(request.path, {k.lower(): v for k, v in request.headers.items()}, await request.read(), time.monotonic())
        self.received.append(record)
        key = record.webhook_id
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.max_in_flight_per_id = max(self.max_in_flight_per_id, self.in_flight[key])
        try:
            status, headers, body, delay = self.script(record) if self.script else (200, {}, "ok", 0)
            if delay:
                await asyncio.sleep(delay)
            return web.Response(status=status, headers=headers, text=body)
        finally:
            self.in_flight[key] -= 1

    def start(self):
        ready = threading.Event()

        def serve():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            stalled = asyncio.all_tasks(self._loop)  # handlers still sleeping on a stalled answer
            for task in stalled:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*stalled, return_exceptions=True))
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def wait_for(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.received) >= count

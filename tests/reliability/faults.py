"""Fault injectors for the reliability tests: receivers that misbehave at the TCP level. (A server going down and
coming back is tests.subscriptions.broker_helpers.TcpProxy: down(), up().)

HostileReceiver speaks just enough HTTP/1.1 to read a request; then the path decides what it does wrong:
  /hang      reads the request and never answers (until the client gives up)
  /close     reads the request headers and closes the connection without an answer
  /truncate  sends a status line promising 100 bytes, sends 7, closes
  /trickle   answers 200 with a 50 MB Content-Length, then 16 bytes every 50 ms
  /flood     answers 200 with a 50 MB body as fast as the client takes it
  /bomb      answers 200 with a gzip body of BOMB_BYTES compressed below 4 KiB, though the request asked for none
Every request is kept (path, webhook-id); `sent` holds the body bytes each /flood or /trickle connection got out.
"""

import asyncio
import gzip
import threading
from dataclasses import dataclass, field

HUGE = 50 * 1024 * 1024
BOMB_BYTES = 4_000_000


@dataclass
class HostileReceiver:
    requests: list = field(default_factory=list)  # (path, webhook-id)
    sent: list = field(default_factory=list)  # body bytes written per /flood or /trickle connection, once it ended
    open_connections: int = 0
    port: int = 0

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path):
        return [webhook_id for p, webhook_id in self.requests if p == path]

    async def _serve(self, reader, writer):
        self.open_connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            self.requests.append((path, headers.get("webhook-id")))
            if path == "/close":
                return
            await reader.readexactly(int(headers.get("content-length", 0)))
            if path == "/hang":
                await reader.read()  # EOF: the client gave up
            elif path == "/truncate":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial")
                await writer.drain()
            elif path == "/bomb":
                body = gzip.compress(b"x" * BOMB_BYTES, compresslevel=9)
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
            elif path in ("/trickle", "/flood"):
                await self._stream(writer, 16 if path == "/trickle" else 64 * 1024, 0.05 if path == "/trickle" else 0)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()

    async def _stream(self, writer, chunk, pause):
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {HUGE}\r\n\r\n".encode())
        written = 0
        try:
            while written < HUGE:
                writer.write(b"x" * chunk)
                await writer.drain()
                written += chunk
                if pause:
                    await asyncio.sleep(pause)
        finally:
            self.sent.append(written)

    def start(self):
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10)
        return self

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

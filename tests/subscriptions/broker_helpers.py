"""Helpers for tests against the real RabbitMQ: unique names, publishing entrecode-style messages, waiting."""

import json
from contextlib import contextmanager
import shutil
import socket
import subprocess
import threading
import time
import uuid

from urllib.parse import unquote, urlsplit, urlunsplit

import pika

from tests.conftest import SERVICE_URLS

AMQP_URL = SERVICE_URLS["rabbitmq"]  # AMQP_URL from the environment, else the local default


class Broker:
    """A connection plus unique exchange/queue names for one test; delete() removes everything it names."""

    def __init__(self, url=AMQP_URL):
        self.url = url
        suffix = uuid.uuid4().hex[:10]
        self.exchange = f"test.publicAPI.{suffix}"
        self.queue = f"test.work.{suffix}"
        self.dead_exchange = f"test.dead.{suffix}"
        self.dead_queue = f"test.dead.{suffix}"
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)

    def dispatcher_options(self, **extra):
        return {"url": self.url, "queue": self.queue, "dead_exchange": self.dead_exchange, "dead_queue": self.dead_queue, **extra}

    def publish(self, routing_key, body, exchange=None, **props):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        defaults = {"delivery_mode": 2, "content_type": "application/json", "message_id": str(uuid.uuid4()), "app_id": "ec.test",
                    "timestamp": int(time.time() * 1000)}
        properties = pika.BasicProperties(**{k: v for k, v in {**defaults, **props}.items() if v is not None})
        self.channel.basic_publish(exchange or self.exchange, routing_key, raw, properties)

    def depth(self, queue):
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def drain(self, queue):
        """Every message now in `queue`: [(properties, body)] (acknowledged, so gone)."""
        out = []
        while True:
            method, props, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append((props, body))

    def delete(self):
        channel = self.connection.channel()
        for queue in (self.queue, self.dead_queue):
            channel.queue_delete(queue)
        for exchange in (self.exchange, self.dead_exchange):
            channel.exchange_delete(exchange)
        self.connection.close()


def wait_until(condition, timeout=30.0, interval=0.05, what="condition"):
    """Poll until condition() is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def with_port(url, host, port):
    """`url` with its host and port replaced (credentials, vhost or database kept): the same server through a proxy."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials + '@' if credentials else ''}{host}:{port}"))


class TcpProxy:
    """A local TCP forwarder to a real server. cut() kills every connection through it, as a broker restart would;
    down() does that and refuses new connections (accepted and closed at once, as a stopped server's port would)
    until up()."""

    @classmethod
    def to(cls, url, default_port):
        """A proxy to the server of `url`; .url is the same url through the proxy."""
        parts = urlsplit(url)
        proxy = cls(parts.hostname or "127.0.0.1", parts.port or default_port)
        proxy.url = with_port(url, "127.0.0.1", proxy.port)
        return proxy

    @classmethod
    def to_broker(cls, url=None):
        return cls.to(url or AMQP_URL, 5672)

    def __init__(self, host, port):
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0  # forwarded, in all
        self.refused = 0
        self.is_down = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                if self.is_down:
                    self.refused += 1
                    _close(client)
                    continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self.connections += 1
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(target)

    def cut(self):
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            _close(s)

    def down(self):
        with self._lock:
            self.is_down = True
        self.cut()

    def up(self):
        with self._lock:
            self.is_down = False

    def close(self):
        self.server.close()
        self.cut()


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@contextmanager
def running_dispatcher(**options):
    """A Dispatcher consuming on a thread while the block runs; stopped (its batch acknowledged) and joined after."""
    from subscriptions.broker.dispatch import Dispatcher

    dispatcher = Dispatcher(**options)
    thread = threading.Thread(target=dispatcher.run, daemon=True)
    thread.start()
    try:
        assert dispatcher.ready.wait(20), "the dispatcher did not start consuming"
        dispatcher.thread = thread
        yield dispatcher
    finally:
        dispatcher.stop()
        thread.join(20)
        assert not thread.is_alive()


def unacknowledged(url, queue):
    """RabbitMQ's own count of the queue's messages delivered to a consumer and not yet acknowledged (rabbitmqctl,
    no management plugin), or None where rabbitmqctl cannot be run against that broker."""
    parts = urlsplit(url)
    if parts.hostname not in (None, "127.0.0.1", "localhost", "::1") or not shutil.which("rabbitmqctl"):
        return None
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    done = subprocess.run(
        ["rabbitmqctl", "list_queues", "-p", vhost, "-q", "--no-table-headers", "name", "messages_unacknowledged"],
        capture_output=True, text=True, timeout=60,
    )
    if done.returncode != 0:
        return None
    for line in done.stdout.splitlines():
        name, _, count = line.rpartition("\t")
        if name == queue:
            return int(count)
    raise AssertionError(f"rabbitmqctl does not list the queue {queue} in vhost {vhost}: {done.stdout!r}")

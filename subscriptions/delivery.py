"""HTTP delivery of webhooks: where the hub may send (SSRF guard), which headers an endpoint may add, and the async
sender (aiohttp) that posts a body and reports what came back. Knows no ORM."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

__all__ = [
    "ForbiddenTarget", "GuardedResolver", "SendResult", "Sender", "TargetError", "build_request_headers",
    "is_forbidden_address", "parse_retry_after", "validate_headers", "validate_target_url",
]

MAX_HEADERS = 50
MAX_HEADER_VALUE = 4096
# RFC 7230 token characters: what a header name may hold.
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$")
# Hop-by-hop headers belong to one connection, and the rest are the hub's to set: an endpoint may not forge them.
RESERVED_HEADERS = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
        "trailers", "transfer-encoding", "upgrade", "host", "content-length",
        "webhook-id", "webhook-timestamp", "webhook-signature",
    }
)
FORBIDDEN_HOSTNAMES = ("localhost", "localhost.localdomain")
# A host of numbers only (127.1, 2130706433, 0x7f000001, 0177.0.0.1): no DNS name, an IPv4 address in an old spelling
# that resolvers read as one and the sender refuses or resolves: never a target.
NUMERIC_HOST_RE = re.compile(r"^(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+))*\.?$", re.IGNORECASE)


class TargetError(ValueError):
    """A URL or header the hub refuses to send to or with; the message says why and never holds a secret."""


def is_forbidden_address(address: str) -> bool:
    """True for loopback, private, link-local, shared, reserved, multicast and unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def validate_target_url(url: str, allow_private: bool = False) -> str:
    """An absolute http(s) URL; loopback and private literal addresses only when allow_private.

    Host names are checked again on the resolved address at send time (DNS can point anywhere).
    """
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise TargetError("Enter an http:// or https:// URL of at most 2048 characters.")
    if any(c in url for c in "\r\n\t\x00 "):
        raise TargetError("A URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"This is not a valid URL: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise TargetError("Only http:// and https:// URLs can receive webhooks.")
    host = parts.hostname
    if not host:
        raise TargetError("The URL names no host.")
    if port == 0:
        raise TargetError("Port 0 cannot receive webhooks.")
    if NUMERIC_HOST_RE.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise TargetError(f"'{host}' is not a host name or an IPv4 address in dotted decimal (like 192.0.2.10).") from None
    if not allow_private:
        if host.rstrip(".").lower() in FORBIDDEN_HOSTNAMES or host.rstrip(".").lower().endswith(".localhost"):
            raise TargetError(f"'{host}' is a local address; webhooks go to public addresses only.")
        try:
            forbidden = is_forbidden_address(host)
        except ValueError:
            forbidden = False  # a name, not an address literal: checked when it is resolved
        if forbidden:
            raise TargetError(f"'{host}' is a private, loopback or link-local address; webhooks go to public addresses only.")
    return url


def validate_headers(headers: dict) -> dict:
    """Extra headers an endpoint sends with every delivery; names are tokens, values single-line and bounded."""
    if not isinstance(headers, dict):
        raise TargetError("headers must be an object of name: value.")
    if len(headers) > MAX_HEADERS:
        raise TargetError(f"At most {MAX_HEADERS} headers are allowed.")
    seen = set()
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME_RE.match(name):
            raise TargetError(f"'{name}' is not a valid header name.")
        lower = name.lower()
        if lower in RESERVED_HEADERS:
            raise TargetError(f"'{name}' is set by the hub (or belongs to one connection) and cannot be configured.")
        if lower in seen:
            raise TargetError(f"'{name}' is given twice.")
        seen.add(lower)
        if not isinstance(value, str) or len(value) > MAX_HEADER_VALUE:
            raise TargetError(f"'{name}' must be a string of at most {MAX_HEADER_VALUE} characters.")
        if any(c in value for c in "\r\n\x00"):
            raise TargetError(f"'{name}' may not contain line breaks or NUL characters.")
    return headers


USER_AGENT = "eventhub-webhooks/1.0 (+Standard Webhooks)"


def build_request_headers(extra: dict, msg_id: str, timestamp: int, body: bytes, secrets) -> dict:
    """Every header of a delivery request: JSON content type, user agent, the endpoint's own, then the signature.

    The one place the headers are composed, so a preview shows exactly what the worker sends.
    """
    from subscriptions.signing import signature_headers

    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    for name, value in (extra or {}).items():
        for own in [h for h in headers if h.lower() == name.lower()]:
            del headers[own]  # an endpoint may override content type and user agent
        headers[name] = value
    headers.update(signature_headers(secrets, msg_id, timestamp, body))
    return headers


# --- the sender ------------------------------------------------------------------------------------------------

RESPONSE_BODY_LIMIT = 4096  # what an Attempt keeps of a response; more is never read
MAX_RESPONSE_HEADERS = 100
MAX_RESPONSE_HEADER_VALUE = 1024


class ForbiddenTarget(OSError):
    """The target resolves to (or is) a loopback, private or link-local address and private targets are off."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one HTTP try gave: a status with headers and the first 4 KiB of the body, or an error. Never both."""

    status_code: int | None = None
    headers: dict = field(default_factory=dict)
    body: str = ""
    duration_ms: float = 0.0
    error: str = ""
    timed_out: bool = False
    refused: bool = False  # the hub itself refused the target (SSRF guard): trying again would not help


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses every forbidden address (SSRF on the RESOLVED address).

    Checking here, not before the request, closes the gap between a check and the connect (DNS rebinding).
    """

    def __init__(self, inner: AbstractResolver | None = None):
        self._inner = inner or DefaultResolver()

    async def resolve(self, host, port=0, family=socket.AF_INET):
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if not is_forbidden_address(r["host"])]
        if not allowed:
            raise ForbiddenTarget(f"'{host}' resolves to a private, loopback or link-local address; webhooks go to public addresses only.")
        return allowed

    async def close(self):
        await self._inner.close()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Sender:
    """One pooled aiohttp session: bounded concurrency, per-request timeout, no redirects, bounded reads.

    Use as `async with Sender(concurrency=50) as sender: result = await sender.send(...)`.
    """

    def __init__(self, concurrency: int = 50, allow_private: bool = False):
        self.concurrency = concurrency
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(concurrency)

    async def __aenter__(self):
        connector = aiohttp.TCPConnector(
            limit=self.concurrency,
            ttl_dns_cache=60,
            resolver=None if self.allow_private else GuardedResolver(),
        )
        # Receivers' cookies are not the hub's business; one jar per hub would leak them between tenants.
        self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True)
        return self

    async def __aexit__(self, *exc):
        await self._session.close()

    async def send(self, method: str, url: str, body: bytes, headers: dict, timeout: float) -> SendResult:
        async with self._slots:
            return await self._send(method, url, body, headers, timeout)

    async def _send(self, method, url, body, headers, timeout):
        started = time.perf_counter()

        def elapsed():
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            if not self.allow_private:
                _refuse_forbidden_literal(url)  # IP literals never reach the resolver
            async with self._session.request(
                method, url, data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout), skip_auto_headers=("Accept-Encoding",),
            ) as response:
                raw = await _read_bounded(response.content, RESPONSE_BODY_LIMIT)
                return SendResult(
                    status_code=response.status, headers=_bounded_headers(response.headers),
                    body=_storable(raw.decode(response.charset or "utf-8", errors="replace")), duration_ms=elapsed(),
                )
        except ForbiddenTarget as exc:
            return SendResult(error=str(exc), duration_ms=elapsed(), refused=True)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, ForbiddenTarget):
                return SendResult(error=str(exc.os_error), duration_ms=elapsed(), refused=True)
            return SendResult(error=f"{type(exc).__name__}: {exc}", duration_ms=elapsed())
        except asyncio.TimeoutError:
            return SendResult(error=f"Timed out after {timeout:g} s.", duration_ms=elapsed(), timed_out=True)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return SendResult(error=f"{type(exc).__name__}: {exc}"[:1000], duration_ms=elapsed())


def _refuse_forbidden_literal(url):
    host = urlsplit(url).hostname or ""
    try:
        forbidden = is_forbidden_address(host)
    except ValueError:
        return  # a name: the GuardedResolver checks what it resolves to
    if forbidden:
        raise ForbiddenTarget(f"'{host}' is a private, loopback or link-local address; webhooks go to public addresses only.")


async def _read_bounded(stream, limit):
    chunks, size = [], 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _storable(text):
    """A receiver's text as the database can keep it: PostgreSQL refuses NUL in text and in jsonb."""
    return text.replace("\x00", "\ufffd")


def _bounded_headers(headers):
    out = {}
    for name, value in headers.items():
        name, value = _storable(name), _storable(value)
        if name in out:
            out[name] = f"{out[name]}, {value}"[:MAX_RESPONSE_HEADER_VALUE]
        elif len(out) < MAX_RESPONSE_HEADERS:
            out[name] = value[:MAX_RESPONSE_HEADER_VALUE]
    return out

"""HTTP delivery of webhooks: where the hub may send (SSRF guard), which headers an endpoint may add, and the async
sender (aiohttp) that posts a body and reports what came back. Knows no ORM."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from eventhub.json_limits import storable_text
from subscriptions.core.signing import signature_headers
from subscriptions.delivery.answers import answer

__all__ = [
    "ForbiddenTarget", "GuardedResolver", "SendResult", "Sender", "TargetError", "build_request_headers",
    "client_host", "embedded_ipv4", "is_forbidden_address", "validate_headers", "validate_target_url",
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
        "webhook-id", "webhook-timestamp", "webhook-signature", "emporix-event-signature",
    }
)
FORBIDDEN_HOSTNAMES = ("localhost", "localhost.localdomain")
# A host of numbers only (127.1, 2130706433, 0x7f000001, 0177.0.0.1): no DNS name, an IPv4 address in an old spelling
# that resolvers read as one and the sender refuses or resolves: never a target.
NUMERIC_HOST_RE = re.compile(r"^(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+))*\.?$", re.IGNORECASE)


# IPv6 ranges whose low 32 bits are an IPv4 address the packet is meant for: IPv4-mapped, IPv4-translated (SIIT),
# IPv4-compatible (deprecated; also holds :: and ::1, which read as 0.0.0.0 and 0.0.0.1), NAT64's well-known prefix.
IPV4_CARRIERS = tuple(ipaddress.IPv6Network(n) for n in ("::ffff:0:0/96", "::ffff:0:0:0/96", "::/96", "64:ff9b::/96"))
# NAT64 for local use (RFC 8215): where the IPv4 address sits depends on the operator's prefix length, so it cannot be
# read; the range is not globally reachable anyway (older Pythons still call it global).
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
FORBIDDEN_REASON = "is a private, loopback or link-local address; webhooks go to public addresses only."


class TargetError(ValueError):
    """A URL or header the hub refuses to send to or with; the message says why and never holds a secret."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to, if it is one of the forms that carry one: IPv4-mapped, -translated
    and -compatible, NAT64 (64:ff9b::/96), 6to4 (2002::/16, bits 16..48) or Teredo (2001::/32, the client address is
    the inverted last 32 bits); else None."""
    if any(ip in network for network in IPV4_CARRIERS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_forbidden_address(address: str) -> bool:
    """True for loopback, private, link-local, shared, reserved, multicast and unspecified addresses, and for IPv6
    addresses that lead to such an IPv4 address. The one rule, used at save (validate_target_url) and at send (the
    literal check and GuardedResolver). ValueError when `address` is not an IP address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL_USE:
            return True
        embedded = embedded_ipv4(ip)
        if embedded is not None:
            if _not_public(embedded):
                return True
            if any(ip in network for network in IPV4_CARRIERS):
                return False  # only a way of writing a public IPv4 address
            # 6to4 and Teredo are IPv6 ranges of their own as well: judged by their own rule too (below)
    return _not_public(ip)


def _not_public(ip) -> bool:
    return not ip.is_global or ip.is_multicast  # is_global holds for multicast ranges on some Pythons


def client_host(url: str) -> str:
    """The host as the sender connects to it, read by the sender's own URL parser (yarl, under aiohttp): IDNA/NFKC
    applied (`１２７．０．０．１`, `①②⑦.0.0.1`, `127。0。0。1` all read 127.0.0.1, `ⓛocalhost` reads localhost), lowercased,
    an IPv6 literal compressed and without brackets. ValueError when the parser refuses the URL or finds no host."""
    host = yarl.URL(url).raw_host
    if not host:
        raise ValueError("no host")
    return host


def _is_address_literal(host: str) -> bool:
    """aiohttp's own test (helpers.is_ip_address): such a host is connected to as it is, never given to the resolver."""
    return ":" in host or host.replace(".", "").isdigit()


def host_refusal(host: str, written: str | None = None) -> str | None:
    """Why the hub may not send to `host` (as client_host gives it) when private targets are off, or None. A name is
    refused here only when it is a local name; the others are checked on every address they resolve to (GuardedResolver).
    `written` is the host as the URL spells it, for the message."""
    shown = f"'{host}'" if written is None or written.lower() == host else f"'{written}' (read as {host})"
    bare = host.rstrip(".")
    if bare in FORBIDDEN_HOSTNAMES or bare.endswith(".localhost"):
        return f"{shown} is a local address; webhooks go to public addresses only."
    if not _is_address_literal(host):
        return None
    try:
        forbidden = is_forbidden_address(host)
    except ValueError:
        return f"{shown} is neither a host name nor an IP address the hub can judge; webhooks go to public addresses only."
    return f"{shown} {FORBIDDEN_REASON}" if forbidden else None


def validate_target_url(url: str, allow_private: bool = False) -> str:
    """An absolute http(s) URL; loopback and private literal addresses only when allow_private.

    The host is judged as the sender will connect to it (client_host), never as written. Host names are checked again
    on the resolved address at send time (DNS can point anywhere).
    """
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise TargetError("Enter an http:// or https:// URL of at most 2048 characters.")
    if any(c in url for c in "\r\n\t\x00 "):
        raise TargetError("A URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)  # the stricter parser decides what is a URL at all (ports in ASCII digits, IPv6 brackets)
        port = parts.port
        written = yarl.URL(url, encoded=True).raw_host
        host = client_host(url) if parts.hostname else ""
    except ValueError as exc:
        raise TargetError(f"This is not a valid URL: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise TargetError("Only http:// and https:// URLs can receive webhooks.")
    if not host:
        raise TargetError("The URL names no host.")
    if port == 0:
        raise TargetError("Port 0 cannot receive webhooks.")
    if not (written or "").isascii() and (_is_address_literal(host) or NUMERIC_HOST_RE.match(host)):
        # Nobody writes an address in circled or fullwidth digits but to slip it past a check made on the text.
        raise TargetError(f"'{written}' is read as the address {host}; write an IP address in ASCII digits and dots.")
    if NUMERIC_HOST_RE.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise TargetError(f"'{host}' is not a host name or an IPv4 address in dotted decimal (like 192.0.2.10).") from None
    if not allow_private and (reason := host_refusal(host, written)):
        raise TargetError(reason)
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


def build_request_headers(extra: dict, msg_id: str, timestamp: int, body: bytes, secrets,
                          content_type: str = "application/json") -> dict:
    """Every header of a delivery request: the body's content type (application/cloudevents+json for CloudEvents),
    user agent, that the answer comes uncompressed (the hub keeps its first 4 KiB as sent), the endpoint's own, then
    the signature.

    The one place the headers are composed, so a preview shows exactly what the worker sends.
    """
    headers = {"Content-Type": content_type or "application/json", "User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    for name, value in extra.items() if extra else ():
        for own in [h for h in headers if h.lower() == name.lower()]:
            del headers[own]  # an endpoint may override content type, user agent and encoding
        headers[name] = value
    headers.update(signature_headers(secrets, msg_id, timestamp, body))
    return headers


# --- the sender ------------------------------------------------------------------------------------------------


class ForbiddenTarget(OSError):
    """The target resolves to (or is) a loopback, private or link-local address and private targets are off."""


@dataclass(slots=True)  # one per send; treated as immutable, not frozen (see claims.Job)
class SendResult:
    """What one HTTP try gave: a status with headers and the first 4 KiB of the body, or an error. Never both."""

    status_code: int | None = None
    headers: dict = field(default_factory=dict)
    body: str = ""
    duration_ms: float = 0.0
    error: str = ""
    timed_out: bool = False
    refused: bool = False  # the hub itself refused the target (SSRF guard): trying again would not help

    def __post_init__(self):
        # An error's text can carry what the receiver sent (its bytes as lone surrogates, a NUL): made storable here,
        # where it enters, as answers.answer does for the answer's headers and body; else recording it would fail, and
        # with it the record of every other result of its batch (other tenants' too).
        if self.error:
            self.error = storable_text(self.error)


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


class Sender:
    """One pooled aiohttp session: bounded concurrency, per-request timeout, no redirects, bounded reads.

    Use as `async with Sender(concurrency=50) as sender: result = await sender.send(...)`.
    """

    def __init__(self, concurrency: int = 50, allow_private: bool = False, queue: bool = True):
        """`queue`: sends beyond `concurrency` wait for a slot here; False when the caller never starts more (the
        worker's schedule counts its own), which saves a semaphore per send."""
        self.concurrency = concurrency
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(concurrency) if queue else None

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
        if self._slots is None:
            return await self._send(method, url, body, headers, timeout)
        async with self._slots:
            return await self._send(method, url, body, headers, timeout)

    async def _send(self, method, url, body, headers, timeout) -> SendResult:
        started = time.perf_counter()

        def elapsed():
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            if not self.allow_private:
                _refuse_forbidden_literal(url)  # IP literals never reach the resolver
            # No skip_auto_headers: aiohttp copies the headers for it on every request; build_request_headers
            # names the encoding itself (identity), which keeps aiohttp's default one out the same way.
            async with self._session.request(
                method, url, data=body, headers=headers, allow_redirects=False, timeout=_client_timeout(timeout),
            ) as response:
                headers, body = await answer(response)
                return SendResult(status_code=response.status, headers=headers, body=body, duration_ms=elapsed())
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


@functools.lru_cache(maxsize=64)
def _client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """One (immutable) ClientTimeout per endpoint timeout, not one made per request."""
    return aiohttp.ClientTimeout(total=seconds)


def _refuse_forbidden_literal(url):
    """An address literal never reaches the resolver, so it is judged here, on the host the sender will connect to."""
    try:
        host = client_host(url)
    except ValueError:
        return  # the sender refuses this URL itself, before any connection
    if _is_address_literal(host) and (reason := host_refusal(host)):
        raise ForbiddenTarget(reason)  # a name, local or not, is judged on what it resolves to (GuardedResolver)

"""HTTP delivery of webhooks: where the hub may send (SSRF guard) and which headers an endpoint may add. Knows no ORM."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = ["TargetError", "is_forbidden_address", "validate_headers", "validate_target_url"]

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

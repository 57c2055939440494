"""Signing deliveries: Standard Webhooks (endpoint secrets, v1 HMAC-SHA256 signatures, message ids, the webhook-*
headers) and Emporix's `emporix-event-signature`, for endpoints that hold an Emporix secret key."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import time
import json
import uuid
from collections.abc import Sequence
from secrets import token_bytes

import rfc8785

__all__ = [
    "EMPORIX_KEY_PREFIX", "EMPORIX_SIGNATURE_HEADER", "MESSAGE_ID_PREFIX", "SECRET_PREFIX", "emporix_key",
    "emporix_signature", "generate_secret", "is_emporix_key", "new_message_uuid", "new_webhook_id", "secret_bytes",
    "sign", "signature_headers", "webhook_id",
]

SECRET_PREFIX = "whsec_"
SECRET_SIZE = 24  # bytes of key material, as Svix issues them
MESSAGE_ID_PREFIX = "msg_"
# Crockford's base32 (no i, l, o, u), lower case: 26 characters carry the 128 bits of a UUID, in the UUID's order.
_BASE32 = "0123456789abcdefghjkmnpqrstvwxyz"

# An endpoint's secret that is an Emporix secret key is stored with this prefix: ':' is not base64, so no Standard
# Webhooks secret (with or without "whsec_") can start so.
EMPORIX_KEY_PREFIX = "emporix:"
EMPORIX_SIGNATURE_HEADER = "emporix-event-signature"
_SAFE_INTEGER = 2**53 - 1

# Error messages never include the secret: they end up in logs and API responses.


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_SIZE)).decode("ascii")


def new_message_uuid() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, the version, 74 random bits and the variant.

    Unique across databases and installations (unlike a row id, which restarts with every database) and telling
    nothing about how many messages were sent; time-ordered, so a unique index on it grows at its end like one on a
    sequence. Written here because Python 3.11's uuid module has no uuid7 (3.14 adds it) and a dependency for ten
    lines is not worth its upkeep.
    """
    return uuid.UUID(int=_uuid7())


def _uuid7() -> int:
    """new_message_uuid's 128 bits (the pipeline makes one per delivery and needs only its text: no UUID object)."""
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(token_bytes(10), "big")  # 80 bits, 74 of them used
    return (
        (millis & 0xFFFF_FFFF_FFFF) << 80  # unix_ts_ms
        | 0x7 << 76  # ver
        | (random >> 68) << 64  # rand_a: 12 bits
        | 0b10 << 62  # var
        | (random & ((1 << 62) - 1))  # rand_b: 62 bits
    )


def webhook_id(message_uuid: uuid.UUID) -> str:
    """A webhook-id: "msg_" and the UUID in 26 characters of base32 (30 in all, sorting as the UUIDs do)."""
    return _webhook_id(message_uuid.int)


# The 26 base32 digits of 128 bits (the first holds the top 3 bits), read as 13 pairs of 10 bits: one lookup per
# pair instead of one per digit, half the time of the digit-by-digit loop (every delivery the pipeline stores has one).
_DIGIT_PAIRS = tuple(first + second for first in _BASE32 for second in _BASE32)
_PAIR_SHIFTS = tuple(range(120, -1, -10))


def _webhook_id(value: int) -> str:
    return MESSAGE_ID_PREFIX + "".join([_DIGIT_PAIRS[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


def new_webhook_id() -> str:
    """A fresh webhook-id, like "msg_01m8jdwnt6f1evczc22ysfxyxp"; made once per delivery, kept across its retries."""
    return _webhook_id(_uuid7())


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a secret, given with or without the "whsec_" prefix."""
    if not isinstance(secret, str):
        raise ValueError("a webhook secret must be a string")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        # Some issuers drop the base64 padding; put it back rather than reject their secrets.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError('a webhook secret must be "whsec_" followed by standard base64') from None
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    if type(timestamp) is not int:
        raise TypeError("timestamp must be an int of whole seconds since the epoch")
    mac = _keyed(secret).copy()
    mac.update(f"{msg_id}.{timestamp}.".encode())
    mac.update(body)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


@functools.lru_cache(maxsize=1024)
def _keyed(secret: str):
    """HMAC-SHA256 keyed with a secret, copied for each message. OpenSSL 3's one-shot HMAC (hmac.digest) fetches the
    algorithm and sets up the key on every call: ~8 µs a signature in the delivery worker's event loop (cold caches
    between sends), against ~2 µs for a copy of the keyed state. Bounded; holds what the claimed jobs hold anyway."""
    return hmac.new(secret_bytes(secret), digestmod=hashlib.sha256)


def emporix_key(secret_key: str) -> str:
    """How an endpoint holds an Emporix secret key among its secrets."""
    return EMPORIX_KEY_PREFIX + secret_key


def is_emporix_key(secret: str) -> bool:
    return secret.startswith(EMPORIX_KEY_PREFIX)


def emporix_signature(secret_key: str, body: bytes) -> str:
    """Emporix's signature: Base64 of HMAC-SHA256, keyed with the secret key's UTF-8 bytes, over the body as JSON
    with every object's keys sorted and numbers written as JavaScript writes them (RFC 8785), which is what Emporix's
    receivers compute (`json-stable-stringify` of the parsed body). A body that is not JSON is signed as it is."""
    try:
        message = rfc8785.dumps(_as_javascript_reads_it(json.loads(body)))
    except (ValueError, rfc8785.CanonicalizationError):
        message = body
    digest = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _as_javascript_reads_it(value):
    """Integers past 2**53 become the doubles a JavaScript receiver parses them as (RFC 8785 refuses them)."""
    if type(value) is int and abs(value) > _SAFE_INTEGER:
        return float(value)
    if type(value) is list:
        return [_as_javascript_reads_it(item) for item in value]
    if type(value) is dict:
        return {key: _as_javascript_reads_it(item) for key, item in value.items()}
    return value


def signature_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """webhook-id and webhook-timestamp; webhook-signature with one signature per Standard Webhooks secret, so a
    receiver still holding a rotated-out secret keeps verifying; emporix-event-signature with an Emporix key."""
    if isinstance(secrets, str):
        raise TypeError("secrets must be a sequence of secrets, not one string")
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    standard = [secret for secret in secrets if not is_emporix_key(secret)]
    if len(standard) == 1:  # nearly always: no generator and join for one signature (every delivery signs here)
        headers["webhook-signature"] = sign(standard[0], msg_id, timestamp, body)
    elif standard:
        headers["webhook-signature"] = " ".join([sign(secret, msg_id, timestamp, body) for secret in standard])
    if len(standard) < len(secrets):
        emporix = next(secret for secret in secrets if is_emporix_key(secret))
        headers[EMPORIX_SIGNATURE_HEADER] = emporix_signature(emporix.removeprefix(EMPORIX_KEY_PREFIX), body)
    return headers

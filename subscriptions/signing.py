"""Standard Webhooks signing: endpoint secrets, v1 HMAC-SHA256 signatures and the webhook-* headers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from secrets import token_bytes

__all__ = ["SECRET_PREFIX", "generate_secret", "secret_bytes", "sign", "signature_headers"]

SECRET_PREFIX = "whsec_"
SECRET_SIZE = 24  # bytes of key material, as Svix issues them

# Error messages never include the secret: they end up in logs and API responses.


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_SIZE)).decode("ascii")


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
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """One signature per secret, so a receiver still holding a rotated-out secret keeps verifying."""
    if isinstance(secrets, str):
        raise TypeError("secrets must be a sequence of secrets, not one string")
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets),
    }

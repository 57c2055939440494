"""emporix-event-signature: Base64 of HMAC-SHA256 with the config's secretKey over the body as Emporix's receivers
rebuild it (json-stable-stringify of the parsed body: keys sorted at every level, integers without ".0"), beside or
instead of Standard Webhooks."""

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from subscriptions.core.signing import emporix_key, emporix_signature, generate_secret, signature_headers
from subscriptions.delivery.sender import TargetError, validate_headers


def receiver_side(secret_key, raw_body):
    """What Emporix's documented receiver does: stringify(req.body) with sorted keys, HMAC-SHA256, Base64. For
    bodies without fractions Python's sorted compact dump is that string."""
    stable = json.dumps(json.loads(raw_body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(hmac.new(secret_key.encode(), stable.encode(), hashlib.sha256).digest()).decode()


BODY = json.dumps({"type": "product.created", "data": {"name": {"de": "Stuhl", "en": "Chair"}, "code": "abc", "n": 3},
                   "id": "evt-1", "tenant": "acme"}, ensure_ascii=False).encode()


def test_the_signature_is_what_emporixs_documented_receiver_computes():
    assert emporix_signature("password123", BODY) == receiver_side("password123", BODY)


def test_a_body_whose_keys_are_already_sorted_verifies_over_its_raw_bytes_too():
    raw = b'{"a":1,"b":{"c":"\xc3\xa9","d":[2,1]}}'
    expected = base64.b64encode(hmac.new(b"k", raw, hashlib.sha256).digest()).decode()
    assert emporix_signature("k", raw) == expected


def test_integers_are_signed_as_integers_and_fractions_as_javascript_writes_them():
    # Emporix: "all integer numbers are formatted as integers, not as decimals (1 instead of 1.0)".
    assert emporix_signature("k", b'{"n": 1.0, "x": 0.5, "big": 1e21}') == emporix_signature("k", b'{"big":1e+21,"n":1,"x":0.5}')


def test_integers_beyond_javascripts_precision_are_signed_as_javascript_parses_them():
    assert emporix_signature("k", b'{"n": 12345678901234567890}') == emporix_signature("k", b'{"n":12345678901234567000}')


def test_a_different_key_or_a_changed_body_gives_another_signature():
    assert emporix_signature("password124", BODY) != emporix_signature("password123", BODY)
    assert emporix_signature("password123", BODY.replace(b"abc", b"abd")) != emporix_signature("password123", BODY)


def test_an_emporix_key_alone_signs_only_emporixs_way():
    headers = signature_headers([emporix_key("password123")], "msg_1", 1700000000, BODY)
    assert headers["emporix-event-signature"] == receiver_side("password123", BODY)
    assert "webhook-signature" not in headers and headers["webhook-id"] == "msg_1"


def test_beside_a_standard_secret_both_signatures_are_sent_and_both_verify():
    secret = generate_secret()
    headers = signature_headers([secret, emporix_key("password123")], "msg_1", 1700000000, BODY)
    assert headers["emporix-event-signature"] == receiver_side("password123", BODY)
    # One Standard Webhooks signature (the Emporix key makes none), the one the library itself makes.
    sent = datetime.fromtimestamp(1700000000, timezone.utc)
    assert headers["webhook-signature"] == Webhook(secret).sign("msg_1", sent, BODY.decode())


def test_standard_secrets_alone_send_no_emporix_header():
    assert "emporix-event-signature" not in signature_headers([generate_secret()], "msg_1", 1700000000, BODY)


def test_a_body_that_is_not_json_is_signed_as_it_is():
    raw = b"not json"
    assert emporix_signature("k", raw) == base64.b64encode(hmac.new(b"k", raw, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("name", ["emporix-event-signature", "Emporix-Event-Signature"])
def test_an_endpoint_cannot_set_the_signature_header_itself(name):
    with pytest.raises(TargetError):
        validate_headers({name: "forged"})

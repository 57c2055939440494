"""Standard Webhooks signing, verified by the reference `standardwebhooks` library itself."""

import base64
import time
import uuid

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from subscriptions.core.signing import generate_secret, new_message_uuid, secret_bytes, sign, signature_headers, webhook_id

BODY = b'{"id":"evt_1","type":"user.created","data":{"name":"Zo\xc3\xab"}}'
MSG_ID = "msg_2b3Nd8aJ"


def now():
    return int(time.time())


def verify(secret, body, headers):
    return Webhook(secret).verify(body, headers, json_parse=False)


def test_signature_from_one_secret_verifies():
    secret = generate_secret()
    verify(secret, BODY, signature_headers([secret], MSG_ID, now(), BODY))


def test_headers_carry_id_timestamp_and_one_v1_signature_per_secret():
    secrets = [generate_secret(), generate_secret()]
    headers = signature_headers(secrets, MSG_ID, 1714557600, BODY)
    assert headers.keys() == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == MSG_ID
    assert headers["webhook-timestamp"] == "1714557600"
    signatures = headers["webhook-signature"].split(" ")
    assert signatures == [sign(s, MSG_ID, 1714557600, BODY) for s in secrets]
    assert all(s.startswith("v1,") for s in signatures)


def test_each_of_two_secrets_alone_verifies_during_rotation():
    old, new = generate_secret(), generate_secret()
    headers = signature_headers([new, old], MSG_ID, now(), BODY)
    verify(old, BODY, headers)
    verify(new, BODY, headers)


def test_tampered_body_fails_verification():
    secret = generate_secret()
    headers = signature_headers([secret], MSG_ID, now(), BODY)
    with pytest.raises(WebhookVerificationError):
        verify(secret, BODY.replace(b"created", b"deleted"), headers)


def test_changed_id_or_timestamp_fails_verification():
    secret = generate_secret()
    timestamp = now()
    headers = signature_headers([secret], MSG_ID, timestamp, BODY)
    with pytest.raises(WebhookVerificationError):
        verify(secret, BODY, {**headers, "webhook-id": "msg_other"})
    with pytest.raises(WebhookVerificationError):
        verify(secret, BODY, {**headers, "webhook-timestamp": str(timestamp - 1)})


def test_wrong_secret_fails_verification():
    headers = signature_headers([generate_secret()], MSG_ID, now(), BODY)
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), BODY, headers)


def test_secret_without_prefix_signs_the_same_and_verifies():
    secret = generate_secret()
    bare = secret.removeprefix("whsec_")
    assert sign(bare, MSG_ID, 1714557600, BODY) == sign(secret, MSG_ID, 1714557600, BODY)
    verify(bare, BODY, signature_headers([bare], MSG_ID, now(), BODY))


def test_signature_matches_the_standard_webhooks_reference_example():
    # The example from the Standard Webhooks specification and the Svix documentation.
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_generated_secret_is_prefixed_base64_of_24_random_bytes():
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert secret_bytes(secret) == base64.b64decode(secret.removeprefix("whsec_"))


def test_generated_secrets_are_distinct():
    assert len({generate_secret() for _ in range(100)}) == 100


def test_secret_bytes_accepts_unpadded_base64():
    assert secret_bytes("whsec_YWJjZA") == b"abcd"
    assert secret_bytes("YWJjZA==") == b"abcd"


@pytest.mark.parametrize("secret", ["whsec_not*base64!", "whsec_", "", "whsec_abcde", "whsec_YW Jj"])
def test_malformed_secret_is_refused_without_echoing_it(secret):
    with pytest.raises(ValueError) as info:
        secret_bytes(secret)
    message = str(info.value)
    assert "webhook secret" in message
    assert secret.removeprefix("whsec_") == "" or secret.removeprefix("whsec_") not in message


def test_malformed_secret_is_refused_when_signing():
    with pytest.raises(ValueError):
        sign("whsec_***", MSG_ID, now(), BODY)


def test_signing_needs_at_least_one_secret():
    with pytest.raises(ValueError):
        signature_headers([], MSG_ID, now(), BODY)


def test_one_secret_passed_as_a_string_is_refused_rather_than_split_into_letters():
    with pytest.raises(TypeError):
        signature_headers(generate_secret(), MSG_ID, now(), BODY)


@pytest.mark.parametrize("timestamp", [1714557600.5, "1714557600", True])
def test_timestamp_must_be_whole_seconds(timestamp):
    with pytest.raises(TypeError):
        sign(generate_secret(), MSG_ID, timestamp, BODY)


def test_body_must_be_bytes():
    with pytest.raises(TypeError):
        sign(generate_secret(), MSG_ID, now(), BODY.decode())


def test_secret_bytes_restores_one_or_two_missing_padding_characters():
    assert secret_bytes("whsec_YWJjZGU") == b"abcde"  # one "=" dropped
    assert secret_bytes("whsec_YWJjZA") == b"abcd"  # two dropped


@pytest.mark.parametrize("secret, message", [
    (None, "a webhook secret must be a string"),
    ("whsec_not*base64!", 'a webhook secret must be "whsec_" followed by standard base64'),
    ("whsec_", "a webhook secret must not be empty"),
])
def test_a_secret_that_cannot_sign_says_why_in_the_log(secret, message):
    with pytest.raises(ValueError) as info:
        secret_bytes(secret)
    assert str(info.value) == message


def test_misuse_of_the_signing_functions_is_named_in_the_error():
    with pytest.raises(TypeError, match=r"^timestamp must be an int of whole seconds since the epoch$"):
        sign(generate_secret(), MSG_ID, 1.5, BODY)
    with pytest.raises(TypeError, match=r"^secrets must be a sequence of secrets, not one string$"):
        signature_headers(generate_secret(), MSG_ID, now(), BODY)
    with pytest.raises(ValueError, match=r"^at least one secret is needed to sign$"):
        signature_headers([], MSG_ID, now(), BODY)


def test_message_uuids_are_version_7_with_the_time_and_74_random_bits():
    before = time.time_ns() // 1_000_000
    made = [new_message_uuid() for _ in range(256)]
    after = time.time_ns() // 1_000_000
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in made)
    assert all(before <= u.int >> 80 <= after for u in made)  # unix_ts_ms: the first 48 bits
    random_bits = [*range(64, 76), *range(0, 62)]  # rand_a (12 bits) and rand_b (62 bits)
    for bit in random_bits:  # each is set in some and clear in others (a false alarm has odds of 2^-255)
        assert {u.int >> bit & 1 for u in made} == {0, 1}, f"bit {bit} never varies"


@pytest.mark.parametrize("number, expected", [
    (0, "msg_00000000000000000000000000"),
    (2**128 - 1, "msg_7zzzzzzzzzzzzzzzzzzzzzzzzz"),  # 128 bits in 26 characters: the first carries 3
    (0x0190_1234_5678_7abc_8def_0123_4567_89ab, "msg_01j0938nkrfay8vvr14d2pf2db"),  # as base64.b32encode spells it
])
def test_a_webhook_id_is_msg_and_the_uuid_in_crockford_base32(number, expected):
    assert webhook_id(uuid.UUID(int=number)) == expected

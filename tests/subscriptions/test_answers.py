"""What an Attempt keeps of a receiver's headers (delivery/answers.py): whatever the receiver sent, bounded and
storable; the common case (each name once, short ASCII values) kept exactly as sent."""

from multidict import CIMultiDict, CIMultiDictProxy

from subscriptions.delivery.answers import MAX_RESPONSE_HEADER_VALUE, MAX_RESPONSE_HEADERS, _bounded_headers


def headers(*pairs):
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_plain_headers_are_kept_as_sent():
    kept = _bounded_headers(headers(("Content-Type", "text/plain"), ("Content-Length", "2"), ("Server", "x")))
    assert kept == {"Content-Type": "text/plain", "Content-Length": "2", "Server": "x"}


def test_a_repeated_name_is_kept_once_with_its_values_joined():
    kept = _bounded_headers(headers(("Set-Cookie", "a=1"), ("Server", "x"), ("Set-Cookie", "b=2")))
    assert kept == {"Set-Cookie": "a=1, b=2", "Server": "x"}


def test_a_long_value_is_cut_to_the_limit():
    kept = _bounded_headers(headers(("X-Long", "v" * (MAX_RESPONSE_HEADER_VALUE + 10)), ("Server", "x")))
    assert kept == {"X-Long": "v" * MAX_RESPONSE_HEADER_VALUE, "Server": "x"}


def test_no_more_than_the_limit_of_names_is_kept():
    kept = _bounded_headers(headers(*[(f"X-{n}", "v") for n in range(MAX_RESPONSE_HEADERS + 5)]))
    assert list(kept) == [f"X-{n}" for n in range(MAX_RESPONSE_HEADERS)]


def test_nul_and_lone_surrogates_become_replacement_characters():
    kept = _bounded_headers(headers(("X-Nul", "a\x00b"), ("X-Latin", "caf\udce9")))
    assert kept == {"X-Nul": "a\ufffdb", "X-Latin": "caf\ufffd"}

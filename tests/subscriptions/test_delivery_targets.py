"""SSRF guard and header rules: where the hub refuses to send, and which headers an endpoint may not set."""

import pytest

from subscriptions.delivery import TargetError, is_forbidden_address, validate_headers, validate_target_url


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "fe80::1%eth0"],
)
def test_loopback_private_link_local_and_mapped_addresses_are_forbidden(address):
    assert is_forbidden_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert not is_forbidden_address(address)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/x", "http://localhost:8000/", "http://api.localhost/", "http://[::1]/", "http://169.254.169.254/latest",
     "http://[::ffff:7f00:1]/", "http://10.0.0.5:9000/hook"],
)
def test_local_targets_are_refused_unless_allowed(url):
    with pytest.raises(TargetError):
        validate_target_url(url)
    assert validate_target_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    "url, fragment",
    [("ftp://example.com/", "http"), ("https://", "no host"), ("http://exa mple.com/", "spaces"),
     ("http://example.com:99999/", "valid"), ("http://example.com/\r\nX: 1", "control"), ("x" * 3000, "2048")],
)
def test_malformed_urls_are_refused_with_a_reason(url, fragment):
    with pytest.raises(TargetError, match=fragment):
        validate_target_url(url, allow_private=True)


def test_a_public_name_is_accepted_and_checked_again_when_resolved(receiver, monkeypatch):
    import asyncio
    import socket

    from subscriptions import delivery

    url = f"http://hooks.example.com:{receiver.port}/hook"
    assert validate_target_url(url) == url  # a public name: accepted when saved
    asked = []

    class RebindingResolver:  # at send time the name answers with the loopback address (DNS rebinding)
        async def resolve(self, host, port=0, family=socket.AF_INET):
            asked.append(host)
            return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

        async def close(self):
            pass

    monkeypatch.setattr(delivery, "DefaultResolver", RebindingResolver)

    async def send():
        async with delivery.Sender(concurrency=1, allow_private=False) as sender:
            return await sender.send("POST", url, b"{}", {"content-type": "application/json"}, 5)

    result = asyncio.run(send())
    assert asked == ["hooks.example.com"]  # checked again when resolved ...
    assert result.refused and result.status_code is None and "hooks.example.com" in result.error  # ... and refused
    assert receiver.received == []  # nothing reached the loopback receiver


@pytest.mark.parametrize(
    "headers, fragment",
    [({"Host": "evil"}, "Host"), ({"Content-Length": "1"}, "Content-Length"), ({"Webhook-Id": "x"}, "Webhook-Id"),
     ({"Bad Name": "x"}, "valid header name"), ({"X-A": "1", "x-a": "2"}, "twice"), ({"X-A": 1}, "string"),
     ({"X-A": "a\nb"}, "line breaks"), ({f"X-{i}": "v" for i in range(51)}, "At most")],
)
def test_reserved_or_malformed_headers_are_refused(headers, fragment):
    with pytest.raises(TargetError, match=fragment):
        validate_headers(headers)


def test_ordinary_headers_pass_unchanged():
    headers = {"Authorization": "Bearer abc", "X-Team": "catalog"}
    assert validate_headers(headers) == headers

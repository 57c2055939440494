"""SSRF guard and header rules: where the hub refuses to send, and which headers an endpoint may not set."""

import pytest

from subscriptions.delivery.sender import TargetError, is_forbidden_address, validate_headers, validate_target_url


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "fe80::1%eth0"],
)
def test_loopback_private_link_local_and_mapped_addresses_are_forbidden(address):
    assert is_forbidden_address(address)


# IPv6 forms that carry an IPv4 address: judged by the IPv4 address they lead to.
EMBEDDED_NOT_PUBLIC = [
    "::ffff:127.0.0.1", "::FFFF:7F00:1", "::ffff:100.64.0.1", "::ffff:224.0.0.1",  # IPv4-mapped
    "::127.0.0.1", "::10.0.0.1", "::169.254.169.254",  # IPv4-compatible (deprecated, still a way to write it)
    "::ffff:0:127.0.0.1", "::ffff:0:a00:1",  # IPv4-translated (SIIT)
    "64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b::100.64.0.1",  # NAT64, well-known
    "64:ff9b:1::7f00:1", "64:ff9b:1:7f00:1::", "64:ff9b:1:808:8:800::",  # NAT64 local use: not global, whatever it holds
    "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::1", "2002:e000:1::",  # 6to4: bits 16..48
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo: client 127.0.0.1, 10.0.0.1
    "2001::5601:5601",  # Teredo, client 169.254.169.254 (inverted)
]


@pytest.mark.parametrize("address", EMBEDDED_NOT_PUBLIC)
def test_ipv6_forms_embedding_a_non_public_ipv4_address_are_forbidden(address):
    assert is_forbidden_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"],
)
def test_public_addresses_are_allowed(address):
    assert not is_forbidden_address(address)


# The sender's URL parser (yarl, under aiohttp) applies IDNA/NFKC to the host: every one of these connects to a local
# address. The guard must judge what the sender connects to, not the text.
UNICODE_LOCAL_HOSTS = [
    "①②⑦.0.0.1", "⑫⑦.0.0.1", "１２７．０．０．１", "127。0。0。1", "127｡0｡0｡1", "127．0．0．1", "１２7.0.0.1", "127.0.0.１",
    "①⑥⑨.②⑤④.①⑥⑨.②⑤④", "１０.0.0.5", "１２７．０．０．１．", "０ｘ７ｆ．１", "２１３０７０６４３３",
]
LOCAL_NAMES = ["ⓛocalhost", "ｌｏｃａｌｈｏｓｔ", "ⅼocalhost", "LOCALHOST", "LocalHost.", "localhost。", "ｘ．ｌｏｃａｌｈｏｓｔ", "API.LOCALHOST"]


@pytest.mark.parametrize("host", UNICODE_LOCAL_HOSTS + LOCAL_NAMES + [f"[{a}]" for a in EMBEDDED_NOT_PUBLIC])
def test_a_host_is_judged_as_the_sender_will_connect_to_it(host):
    with pytest.raises(TargetError, match="address"):
        validate_target_url(f"http://{host}:8080/hook")


@pytest.mark.parametrize("host", UNICODE_LOCAL_HOSTS)
def test_an_address_in_disguise_is_refused_even_where_private_targets_are_allowed(host):
    # Not a name and not an address as written: nobody types 127.0.0.1 in circled digits but to slip past a check.
    with pytest.raises(TargetError, match="address"):
        validate_target_url(f"http://{host}:8080/hook", allow_private=True)


@pytest.mark.parametrize("host", ["ｅxample.com", "münchen.de", "xn--mnchen-3ya.de", "EXAMPLE.com."])
def test_an_international_or_uppercase_public_name_is_still_accepted(host):
    assert validate_target_url(f"https://{host}/hook") == f"https://{host}/hook"


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

    from subscriptions.delivery import sender as delivery

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

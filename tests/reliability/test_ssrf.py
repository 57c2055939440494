"""The SSRF guard against tricks: a name that resolves to a private address only when the hub sends (DNS rebinding),
numeric spellings of 127.0.0.1 that are names to a URL parser but loopback to the resolver, Unicode spellings that the
sender's URL parser (IDNA/NFKC) turns into 127.0.0.1 or localhost, IPv6 forms that carry a local IPv4 address, and
redirects from a public-looking endpoint. The local receiver would see any request that got through; it sees none.

(A refusal at send time may be retried on the schedule instead of failing at once; either is accepted here, as long as
the refusal is what was recorded and nothing reached the target.)"""

import socket

import pytest
from aiohttp.abc import AbstractResolver

import subscriptions.delivery.sender
from subscriptions.endpoints.services import create_endpoint
from subscriptions.models import Attempt, Delivery, DeliveryStatus, Endpoint
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.delivery.worker import deliver_now

pytestmark = pytest.mark.django_db
BASE = "/webhook/acme"
REFUSED = "resolves to a private, loopback or link-local address"
PUBLIC_ONLY = "webhooks go to public addresses only"

# What the sender reads as 127.0.0.1 or localhost (circled, fullwidth, ideographic and halfwidth dots, mixed), and the
# IPv6 forms leading to a loopback IPv4 address: mapped, compatible, translated, NAT64 (well-known and local use), 6to4,
# Teredo (client 127.0.0.1, inverted).
UNICODE_LOOPBACK = ["①②⑦.0.0.1", "⑫⑦.0.0.1", "１２７．０．０．１", "127。0。0。1", "127｡0｡0｡1", "１２7.0.0.1", "ⓛocalhost", "ｌｏｃａｌｈｏｓｔ"]
EMBEDDED_LOOPBACK = ["[::ffff:127.0.0.1]", "[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[64:ff9b::127.0.0.1]", "[64:ff9b:1::7f00:1]",
                     "[2002:7f00:1::]", "[2001:0:4136:e378:8000:63bf:80ff:fffe]"]


@pytest.fixture(autouse=True)
def guarded(settings, api):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": False, "RETRY_SCHEDULE": [0, 0, 0]}
    api.patch(f"{BASE}/event-subscriptions", [{"eventType": "product.created", "action": "SUBSCRIBE"}], format="json")


class Answers(dict):
    asked: list


@pytest.fixture
def dns(monkeypatch):
    """answers[name] = [addresses], one list per resolution (the last one repeats): the resolver the hub wraps."""
    answers, asked = Answers(), []

    class ScriptedResolver(AbstractResolver):
        async def resolve(self, host, port=0, family=socket.AF_INET):
            asked.append(host)
            queue = answers[host]
            addresses = queue.pop(0) if len(queue) > 1 else queue[0]
            return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}
                    for a in addresses]

        async def close(self):
            pass

    monkeypatch.setattr(subscriptions.delivery.sender, "DefaultResolver", ScriptedResolver)
    answers.asked = asked
    return answers


def send_one(tenant):
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1"}, id="evt-1")])
    deliver_now()
    return Delivery.objects.get()


def assert_refused_and_nothing_sent(delivery, receiver, fragment=REFUSED):
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None  # a refusal is final
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and fragment in attempt.error and fragment in delivery.last_error
    assert not receiver.received


@pytest.mark.parametrize("at_send", [["127.0.0.1"], ["10.0.0.7", "127.0.0.1"], ["169.254.169.254"]])
def test_a_name_accepted_at_save_that_resolves_private_at_send_time_is_refused(tenant, api, receiver, dns, at_send):
    created = api.post(f"{BASE}/endpoints", {"url": f"http://rebind.example.com:{receiver.port}/hook", "events": ["product.*"]}, format="json")
    assert created.status_code == 201  # a public-looking name: nothing to refuse until it is resolved
    dns["rebind.example.com"] = [at_send]
    delivery = send_one(tenant)
    assert dns.asked == ["rebind.example.com"]  # resolved at send time, through the guard
    assert_refused_and_nothing_sent(delivery, receiver)


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "0177.0.0.1", "127.0.0.1.", "017700000001", "0x7f.1"])
def test_numeric_spellings_of_loopback_are_refused_at_save_even_where_private_targets_are_allowed(api, receiver, settings, host):
    # Resolvers read them as 127.0.0.1; the sender either resolves them or can never send to them at all.
    for allow_private in (False, True):
        settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": allow_private}
        created = api.post(f"{BASE}/endpoints", {"url": f"http://{host}:{receiver.port}/hook", "events": ["product.*"]}, format="json")
        assert created.status_code == 400 and host in created.json()["message"], created.content


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("location", ["http://127.0.0.1:{port}/internal", "http://localhost:{port}/internal"])
def test_a_redirect_from_a_public_looking_endpoint_is_not_followed(tenant, api, receiver, dns, monkeypatch, status, location):
    # The receiver plays the public internet: its address counts as public for this test, nothing else does.
    real = subscriptions.delivery.sender.is_forbidden_address
    monkeypatch.setattr(subscriptions.delivery.sender, "is_forbidden_address", lambda address: address != "127.0.0.1" and real(address))
    dns["hooks.example.com"] = [["127.0.0.1"]]
    dns["localhost"] = [["127.0.0.1"]]
    receiver.script = lambda r: (status, {"Location": location.format(port=receiver.port)}, "", 0) if r.path == "/hook" else (200, {}, "ok", 0)
    assert api.post(f"{BASE}/endpoints", {"url": f"http://hooks.example.com:{receiver.port}/hook", "events": ["product.*"]}, format="json").status_code == 201
    delivery = send_one(tenant)
    assert [r.path for r in receiver.received] == ["/hook"]
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 1
    assert f"HTTP {status} (redirects are not followed)" in delivery.last_error


def test_a_local_target_in_any_spelling_is_refused_at_save_naming_url(api, receiver):
    hosts = UNICODE_LOOPBACK + EMBEDDED_LOOPBACK + [
        "LOCALHOST", "LocalHost.", "0x7f.1", "127.0.0.1.", "０ｘ７ｆ．１", "①⑥⑨.②⑤④.①⑥⑨.②⑤④", "[::ffff:100.64.0.1]",
        "[::ffff:224.0.0.1]", "[64:ff9b::169.254.169.254]", "[2002:a00:1::]", "[2001:0:4136:e378:8000:63bf:f5ff:fffe]",
    ]
    accepted = []  # one test, one tenant: every spelling is tried and all that got through are named
    for host in hosts:
        created = api.post(f"{BASE}/endpoints", {"url": f"http://{host}:{receiver.port}/hook", "events": ["product.*"]}, format="json")
        if created.status_code != 400 or [d["field"] for d in created.json()["problems"]] != ["url"]:
            accepted.append((host, created.status_code))
    assert accepted == [] and not Endpoint.objects.exists()


@pytest.mark.parametrize("host", UNICODE_LOOPBACK + EMBEDDED_LOOPBACK)
def test_a_stored_local_target_in_any_spelling_is_refused_at_send_and_never_reached(tenant, receiver, host):
    # Stored without the API's check (an older row, a restore): the sender judges the host it will connect to.
    create_endpoint(tenant, {"url": f"http://{host}:{receiver.port}/hook", "events": ["product.*"], "timeout_seconds": 2})
    assert_refused_and_nothing_sent(send_one(tenant), receiver, fragment=PUBLIC_ONLY)


def test_a_test_send_to_a_unicode_spelling_of_loopback_is_refused_and_reads_nothing_back(tenant, api, receiver):
    # The reported path: the answer of whatever the hub reached would be readable in the delivery log.
    receiver.script = lambda r: (200, {}, "internal secret", 0)
    endpoint, _ = create_endpoint(tenant, {"url": f"http://１２７．０．０．１:{receiver.port}/hook", "events": ["product.*"]})
    queued = api.post(f"{BASE}/endpoints/{endpoint.pk}/test", {"eventType": "product.created", "data": {"id": "t1"}}, format="json")
    assert queued.status_code == 202, queued.content
    deliver_now(ids=[queued.json()["id"]])
    sent = api.get(queued["Location"])
    assert sent.json()["status"] == "failed", sent.content
    assert "internal secret" not in sent.content.decode() and PUBLIC_ONLY in sent.content.decode()
    assert not receiver.received


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/hook", "http://[::ffff:127.0.0.1]:{port}/hook", "http://localhost:{port}/hook"])
def test_private_targets_still_work_where_they_are_allowed(tenant, api, receiver, settings, url):
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 0, 0]}
    created = api.post(f"{BASE}/endpoints", {"url": url.format(port=receiver.port), "events": ["product.*"]}, format="json")
    assert created.status_code == 201, created.content
    assert send_one(tenant).status == DeliveryStatus.SUCCEEDED and len(receiver.received) == 1

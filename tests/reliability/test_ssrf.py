"""The SSRF guard against tricks: a name that resolves to a private address only when the hub sends (DNS rebinding),
numeric spellings of 127.0.0.1 that are names to a URL parser but loopback to the resolver, and redirects from a
public-looking endpoint. The local receiver would see any request that got through; it sees none.

(A refusal at send time may be retried on the schedule instead of failing at once; either is accepted here, as long as
the refusal is what was recorded and nothing reached the target.)"""

import socket

import pytest
from aiohttp.abc import AbstractResolver

import subscriptions.delivery
from subscriptions.models import Attempt, Delivery, DeliveryStatus
from subscriptions.pipeline import IncomingEvent, record_events
from subscriptions.worker import deliver_now

pytestmark = pytest.mark.django_db
BASE = "/webhook/acme"
REFUSED = "resolves to a private, loopback or link-local address"


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

    monkeypatch.setattr(subscriptions.delivery, "DefaultResolver", ScriptedResolver)
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
    real = subscriptions.delivery.is_forbidden_address
    monkeypatch.setattr(subscriptions.delivery, "is_forbidden_address", lambda address: address != "127.0.0.1" and real(address))
    dns["hooks.example.com"] = [["127.0.0.1"]]
    dns["localhost"] = [["127.0.0.1"]]
    receiver.script = lambda r: (status, {"Location": location.format(port=receiver.port)}, "", 0) if r.path == "/hook" else (200, {}, "ok", 0)
    assert api.post(f"{BASE}/endpoints", {"url": f"http://hooks.example.com:{receiver.port}/hook", "events": ["product.*"]}, format="json").status_code == 201
    delivery = send_one(tenant)
    assert [r.path for r in receiver.received] == ["/hook"]
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 1
    assert f"HTTP {status} (redirects are not followed)" in delivery.last_error

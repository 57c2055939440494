"""The delivery worker against real local receivers: signing, retries, give-up, 4xx, 410, Retry-After, timeouts,
the SSRF guard on the resolved address, and the endpoint's failing clock."""

import contextlib
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from subscriptions.endpoints.services import create_endpoint, rotate_secret
from subscriptions.models import Attempt, Delivery, DeliveryStatus, Endpoint
from subscriptions.pipeline.recording import IncomingEvent, record_events
from subscriptions.services import SubscriptionChange, apply_subscription_change
from subscriptions.signals import deliveries_attempted, endpoint_disabled
from subscriptions.delivery.worker import deliver_now

pytestmark = pytest.mark.django_db

SHORT = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 0.2, 0.2], "MAX_RETRY_AFTER_SECONDS": 5}


@pytest.fixture(autouse=True)
def short_schedule(settings):
    settings.EVENTHUB = dict(SHORT)


@pytest.fixture
def hook(tenant, receiver):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    endpoint, secret = create_endpoint(tenant, {"url": receiver.url(), "events": ["product.*"], "timeout_seconds": 1})
    return endpoint, secret


def publish(tenant, *ids):
    return record_events(tenant, [IncomingEvent("product.created", {"id": i}, id=f"evt-{i}") for i in ids])


@contextlib.contextmanager
def captured(signal, key):
    """The `key` argument of every announcement of `signal` while the block runs."""
    values = []
    signal.connect(lambda **kw: values.append(kw[key]), weak=False, dispatch_uid=f"test-{key}")
    try:
        yield values
    finally:
        signal.disconnect(dispatch_uid=f"test-{key}")


def drain(timeout=10):
    """Run the worker's claim/send/record cycle until nothing is pending (waiting out short retry delays)."""
    deadline = time.monotonic() + timeout
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists() and time.monotonic() < deadline:
        if not deliver_now():
            time.sleep(0.05)


def test_a_delivery_is_signed_so_standardwebhooks_verifies_it_and_its_attempt_is_recorded(tenant, hook, receiver):
    endpoint, secret = hook
    publish(tenant, "p1")
    drain()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempt_count == 1 and delivery.last_status_code == 200
    request = receiver.received[0]
    payload = Webhook(secret).verify(request.body, request.headers)  # raises on a bad signature
    assert payload["data"] == {"id": "p1"} and payload["type"] == "product.created"
    assert request.headers["webhook-id"] == delivery.webhook_id
    attempt = Attempt.objects.get()
    assert attempt.status_code == 200 and attempt.response_body == "ok" and attempt.error == ""
    assert attempt.request_headers["webhook-id"] == delivery.webhook_id and attempt.duration_ms > 0


def test_the_worker_signs_with_the_current_secrets_at_send_time(tenant, hook, receiver):
    endpoint, old = hook
    publish(tenant, "p1")
    new = rotate_secret(endpoint)  # after the event was recorded, before it is sent
    drain()
    request = receiver.received[0]
    Webhook(new).verify(request.body, request.headers)
    Webhook(old).verify(request.body, request.headers)  # the old one still signs during the overlap
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5


def test_server_errors_are_retried_with_the_same_webhook_id_until_success(tenant, hook, receiver):
    answers = iter([(500, {}, "boom", 0), (503, {}, "busy", 0), (200, {}, "ok", 0)])
    receiver.script = lambda r: next(answers)
    publish(tenant, "p1")
    drain()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempt_count == 3
    assert [a.status_code for a in delivery.attempts.all()] == [500, 503, 200]
    assert len({r.webhook_id for r in receiver.received}) == 1
    assert Endpoint.objects.get().failing_since is None  # reset by the success


def test_a_delivery_gives_up_after_the_last_scheduled_try(tenant, hook, receiver):
    receiver.script = lambda r: (502, {}, "x" * 10_000, 0)
    with captured(deliveries_attempted, "attempts") as batches:
        publish(tenant, "p1")
        drain()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 3 and len(receiver.received) == 3
    assert "Gave up after 3 attempts" in delivery.last_error and delivery.finished_at is not None
    assert [attempt.outcome for batch in batches for attempt in batch] == ["retrying", "retrying", "failed"]
    assert len(Attempt.objects.first().response_body) == 4096  # only the first 4 KiB is kept
    assert Endpoint.objects.get().failing_since is not None


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_a_client_error_fails_at_once_without_retry(tenant, hook, receiver, status):
    receiver.script = lambda r: (status, {}, "no", 0)
    publish(tenant, "p1")
    drain()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 1 and f"HTTP {status}" in delivery.last_error
    assert Endpoint.objects.get().enabled


def test_410_gone_disables_the_endpoint_with_the_reason_shown(tenant, hook, receiver):
    receiver.script = lambda r: (410, {}, "gone", 0)
    with captured(endpoint_disabled, "reason") as disabled:
        publish(tenant, "p1")
        drain()
    endpoint = Endpoint.objects.get()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason and disabled == [endpoint.disabled_reason]
    assert Delivery.objects.get().status == DeliveryStatus.FAILED
    assert publish(tenant, "p2")[0].deliveries == 0  # the routing index noticed


def test_an_endpoint_failing_for_too_long_is_disabled(tenant, hook, receiver, settings):
    settings.EVENTHUB = {**SHORT, "DISABLE_AFTER_FAILING_SECONDS": 3600}
    receiver.script = lambda r: (500, {}, "", 0)
    Endpoint.objects.update(failing_since=timezone.now() - timedelta(hours=2))
    publish(tenant, "p1")
    deliver_now()
    endpoint = Endpoint.objects.get()
    assert not endpoint.enabled and "more than 1 hours" in endpoint.disabled_reason
    drain()  # the retry is not sent: the endpoint is disabled now
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "disabled" in delivery.last_error and len(receiver.received) == 1


def test_a_deleted_endpoint_fails_its_pending_deliveries_clearly(tenant, hook, receiver):
    publish(tenant, "p1")
    hook[0].delete()
    drain()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "deleted" in delivery.last_error and not receiver.received


def test_retry_after_is_honoured(tenant, hook, receiver):
    answers = iter([(429, {"Retry-After": "1"}, "slow down", 0), (200, {}, "ok", 0)])
    receiver.script = lambda r: next(answers)
    publish(tenant, "p1")
    drain()
    first, second = receiver.received
    assert second.at - first.at >= 0.95  # not the 0.2 s of the schedule
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_a_slow_receiver_times_out_and_is_retried(tenant, hook, receiver):
    answers = iter([(200, {}, "late", 3), (200, {}, "ok", 0)])
    receiver.script = lambda r: next(answers)
    publish(tenant, "p1")
    drain()
    first, second = Attempt.objects.all()
    assert first.status_code is None and "Timed out after 1 s" in first.error and first.duration_ms < 2500
    assert second.status_code == 200 and Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_redirects_are_not_followed(tenant, hook, receiver):
    receiver.script = lambda r: (302, {"Location": "http://169.254.169.254/"}, "", 0)
    publish(tenant, "p1")
    drain()
    assert len(receiver.received) == 1 and "redirects are not followed" in Delivery.objects.get().last_error


def test_a_name_resolving_to_loopback_is_refused_at_send_time(tenant, receiver, settings):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": f"http://localhost:{receiver.port}/hook", "events": ["product.created"], "timeout_seconds": 1})
    settings.EVENTHUB = {**SHORT, "ALLOW_PRIVATE_TARGETS": False}
    publish(tenant, "p1")
    deliver_now()  # one try: a refusal is final, not retried
    delivery = Delivery.objects.get()
    assert not receiver.received and delivery.attempt_count == 1
    assert delivery.status == DeliveryStatus.FAILED and "resolves to a private, loopback" in delivery.last_error


def test_an_ip_literal_private_target_is_refused_at_send_time(tenant, receiver, settings):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": receiver.url(), "events": ["product.created"], "timeout_seconds": 1})
    settings.EVENTHUB = {**SHORT, "ALLOW_PRIVATE_TARGETS": False}
    publish(tenant, "p1")
    deliver_now()
    delivery = Delivery.objects.get()
    assert not receiver.received and "loopback" in delivery.last_error
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 1


def test_custom_payload_and_extra_headers_reach_the_receiver(tenant, receiver):
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(tenant, {"url": receiver.url(), "events": ["product.created"], "method": "PUT",
                             "headers": {"X-Team": "catalog"}, "custom_payload": {"Id": "/data/id"}})
    publish(tenant, "p1")
    drain()
    assert json.loads(receiver.received[0].body) == {"Id": "p1"} and receiver.received[0].headers["x-team"] == "catalog"


def test_a_pending_delivery_goes_to_the_endpoints_current_url(tenant, hook, receiver):
    publish(tenant, "p1")
    Endpoint.objects.update(url=receiver.url("/moved"))
    drain()
    assert receiver.received[0].path == "/moved" and Delivery.objects.get().url == receiver.url("/moved")


def test_a_failed_attempt_is_logged_with_the_event_and_delivery_ids_and_nothing_of_the_body(tenant, hook, receiver, caplog):
    receiver.script = lambda r: (503, {}, "down", 0)
    record_events(tenant, [IncomingEvent("product.created", {"id": "p1", "password": "hunter2"}, id="evt-logged")])
    with caplog.at_level("WARNING", logger="subscriptions.delivery"):
        deliver_now()
    [record] = [r for r in caplog.records if r.name.startswith("subscriptions.delivery.")]
    delivery = Delivery.objects.get()
    assert record.event_id == "evt-logged" and record.delivery_id == delivery.pk and record.outcome == "retrying"
    assert record.status_code == 503 and record.endpoint_id == str(hook[0].pk)
    assert "hunter2" not in record.getMessage() and "evt-logged" in record.getMessage()


def test_a_response_with_nul_characters_is_recorded_not_a_database_error(tenant, hook, receiver):
    # PostgreSQL keeps no NUL in text; a receiver's body is untrusted and must not stop its attempt being recorded.
    receiver.script = lambda r: (200, {}, "ok\x00then more", 0)
    publish(tenant, "p1")
    deliver_now()
    delivery, attempt = Delivery.objects.get(), Attempt.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and attempt.status_code == 200
    assert attempt.response_body == "ok\ufffdthen more"


@contextlib.contextmanager
def raw_http_answer(answer: bytes):
    """A receiver that answers every request with `answer`, byte for byte (what no well-behaved server library sends)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve():
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            with client:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += client.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), b"0"))
                while len(body) < length:
                    body += client.recv(65536)
                client.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        server.close()


def test_an_answer_with_bytes_that_are_not_utf8_is_recorded_and_does_not_hold_up_the_batch(tenant, hook, receiver):
    # A header value in Latin-1 and a charset nobody knows: aiohttp hands the header over as lone surrogates, which
    # PostgreSQL refused, failing the statement that records every attempt of the worker's round trip.
    apply_subscription_change(tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=no-such-charset\r\nX-Shop: caf\xe9 \xff\r\nContent-Length: 4\r\nConnection: close\r\n\r\nok\xe9!"
    with raw_http_answer(answer) as url:
        create_endpoint(tenant, {"url": url, "events": ["product.*"], "timeout_seconds": 1})
        publish(tenant, "p1")
        drain()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}  # both endpoints' deliveries
    odd = Attempt.objects.get(delivery__url=url)
    assert odd.response_headers["X-Shop"] == "caf\ufffd \ufffd" and odd.response_body == "ok\ufffd!"


def test_an_error_text_the_database_cannot_store_is_recorded_readable_with_the_rest_of_its_batch(tenant, hook):
    """An error message carries whatever the receiver sent (its bytes can reach it as lone surrogates, or hold a
    NUL): made storable where it is recorded, it neither fails the record nor keeps the batch's other results out."""
    from subscriptions.delivery.claims import Sent, claim_due, record_results
    from subscriptions.delivery.sender import SendResult

    publish(tenant, "odd", "fine")
    jobs = {job.message_id: job for job in claim_due(10)}
    odd, fine = (Delivery.objects.get(event__event_id=f"evt-{name}") for name in ("odd", "fine"))
    now = timezone.now()
    record_results([
        Sent(jobs[odd.webhook_id], now, {}, SendResult(error="ClientOSError: the peer said caf\udce9\x00")),
        Sent(jobs[fine.webhook_id], now, {}, SendResult(status_code=200, body="ok")),
    ])
    assert Attempt.objects.get(delivery=odd).error == "ClientOSError: the peer said caf\ufffd\ufffd"
    assert Delivery.objects.get(pk=odd.pk).last_error == "ClientOSError: the peer said caf\ufffd\ufffd"
    assert Delivery.objects.get(pk=fine.pk).status == DeliveryStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)  # the record commits, as the worker's does: the foreign keys are checked then
def test_a_delivery_deleted_while_it_was_being_sent_keeps_no_other_result_of_its_batch_from_being_recorded(tenant, hook, other_tenant):
    """A tenant deleted (or its deliveries removed) while the worker sends them: their results have nothing to be
    recorded against, and the other tenants' results of the same batch are recorded all the same."""
    from subscriptions.delivery.claims import Sent, claim_due, record_results
    from subscriptions.delivery.sender import SendResult

    apply_subscription_change(other_tenant, SubscriptionChange("product.created", "SUBSCRIBE"))
    create_endpoint(other_tenant, {"url": "https://hooks.example.com/other", "events": ["product.*"]})
    publish(tenant, "gone")
    publish(other_tenant, "kept")
    jobs = claim_due(10)
    assert {job.tenant_id for job in jobs} == {tenant.pk, other_tenant.pk}
    Delivery.objects.filter(tenant=tenant).delete()
    now = timezone.now()
    record_results([Sent(job, now, {}, SendResult(status_code=200, body="ok")) for job in jobs])
    kept = Delivery.objects.get(tenant=other_tenant)
    assert kept.status == DeliveryStatus.SUCCEEDED and kept.attempts.count() == 1
    assert not Attempt.objects.filter(delivery__tenant=tenant).exists()


def test_a_result_the_database_refuses_loses_only_itself_and_the_worker_claims_on(tenant, hook, monkeypatch, caplog):
    """Refused, not away (a value it cannot store, a bug): the round trip's results are recorded one by one, so the
    refused one is sent again after its lease and the others of its batch are recorded; the claim goes on."""
    from django.db import IntegrityError

    from subscriptions.delivery import worker as worker_module
    from subscriptions.delivery.claims import Sent, claim_due
    from subscriptions.delivery.sender import SendResult

    publish(tenant, "a", "refused", "b", "later")
    jobs = claim_due(3)
    refused = Delivery.objects.get(event__event_id="evt-refused").pk
    record = worker_module.record_results

    def refusing(sent):
        if any(item.job.delivery_id == refused for item in sent):
            raise IntegrityError("refused")
        record(sent)

    monkeypatch.setattr(worker_module, "record_results", refusing)
    now = timezone.now()
    claimed, unrecorded = worker_module.DeliveryWorker()._cycle([Sent(job, now, {}, SendResult(status_code=200)) for job in jobs], 5)
    assert unrecorded == [] and [job.message_id for job in claimed] == [Delivery.objects.get(event__event_id="evt-later").webhook_id]
    assert set(Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).values_list("event__event_id", flat=True)) == {"evt-a", "evt-b"}
    assert Delivery.objects.get(pk=refused).status == DeliveryStatus.PENDING and not Attempt.objects.filter(delivery_id=refused).exists()
    assert f"delivery {refused}: its result cannot be recorded" in caplog.text


def test_an_answers_text_and_headers_are_recorded_exactly_whatever_characters_they_hold(tenant, hook):
    """The record travels as one JSON document on PostgreSQL (delivery/postgres.py): quotes, backslashes, control
    characters, line separators, astral characters and a literal backslash-u0000 all come back as they were sent."""
    from subscriptions.delivery.claims import Sent, claim_due, record_results
    from subscriptions.delivery.sender import SendResult

    publish(tenant, "odd-text")
    (job,) = claim_due(1)
    text = 'say "hi" \\ back\\slash \\u0000 \x01\x1f \u2028\u2029 caf\u00e9 \U0001f600 </script>'
    headers = {"X-Odd": text, "Content-Type": "text/plain; charset=utf-8"}
    request = {"Content-Type": "application/json", "X-Mine": "a\\b \"c\" \U0001f600"}
    record_results([Sent(job, timezone.now(), request, SendResult(status_code=500, headers=headers, body=text, duration_ms=0.125,
                                                                 error=text))])
    attempt = Attempt.objects.get(delivery_id=job.delivery_id)
    assert (attempt.response_body, attempt.response_headers, attempt.request_headers, attempt.error) == (text, headers, request, text)
    assert attempt.duration_ms == 0.125 and attempt.status_code == 500

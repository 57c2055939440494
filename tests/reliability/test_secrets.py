"""Secrets never leak: a whole endpoint lifecycle (token, create, rotate, deliveries that succeed and fail, a test
send, refused requests) with every logger at DEBUG, each record also rendered by the JSON log formatter. No signing
secret (whole, or its key's base64), no bearer token and no client secret appears in any log record, and the API
shows a signing secret only in the answer that created it."""

import logging

import pytest
from pythonjsonlogger.json import JsonFormatter
from rest_framework.test import APIClient

from subscriptions.delivery.worker import deliver_now
from tenants.scopes import SCOPES
from tenants.services import create_api_client

pytestmark = pytest.mark.django_db
BASE = "/webhook/acme"


@pytest.fixture
def everything_logged(caplog, settings):
    """As with LOG_LEVEL=DEBUG: the root logger and every logger the settings do not pin (django.request, aiohttp,
    oauthlib, ...) at DEBUG."""
    settings.EVENTHUB = {"ALLOW_PRIVATE_TARGETS": True, "RETRY_SCHEDULE": [0, 0]}
    caplog.set_level(logging.DEBUG)
    return caplog


def rendered(records):
    """Each record as a log shipper would get it with LOG_FORMAT=json (message, extra fields, traceback)."""
    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    return [formatter.format(record) + repr(record.args) for record in records]


def test_no_secret_or_token_reaches_a_log_or_an_api_read(tenant, receiver, everything_logged):
    _, client_id, client_secret = create_api_client(tenant, list(SCOPES))
    assert APIClient().post("/oauth/token", {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}).status_code == 401
    issued = APIClient().post("/oauth/token", {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
    assert issued.status_code == 200
    token = issued.json()["access_token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer forged-token-that-must-not-be-logged-7f3a")
    assert stranger.get(f"{BASE}/endpoints").status_code == 401

    assert api.patch(f"{BASE}/event-subscriptions", [{"eventType": "product.created", "action": "SUBSCRIBE"}], format="json").status_code == 207
    receiver.script = lambda r: (500, {}, "receiver is down", 0) if r.path == "/down" else (200, {}, "ok", 0)
    created = api.post(f"{BASE}/endpoints", {"url": receiver.url(), "events": ["product.*"]}, format="json").json()
    failing = api.post(f"{BASE}/endpoints", {"url": receiver.url("/down"), "events": ["product.*"]}, format="json").json()
    refused = api.post(f"{BASE}/endpoints", {"url": "http://127.0.0.1:1/closed", "events": ["product.*"]}, format="json").json()
    rotated = api.post(f"{BASE}/endpoints/{created['id']}/rotate-secret").json()
    secrets = [created["secret"], failing["secret"], refused["secret"], rotated["secret"]]
    assert all(s.startswith("whsec_") for s in secrets) and len(set(secrets)) == 4

    assert api.post(f"{BASE}/events", [{"type": "product.created", "data": {"n": n}} for n in range(3)], format="json").status_code == 202
    while deliver_now():  # succeeded, 500 then given up, connection refused then given up
        pass
    queued = api.post(f"{BASE}/endpoints/{created['id']}/test", {"eventType": "product.created", "data": {"t": 1}}, format="json")
    assert queued.status_code == 202 and deliver_now(ids=[queued.json()["id"]]) == 1
    tested = api.get(queued["Location"])
    assert tested.json()["status"] == "succeeded"
    assert api.patch(f"{BASE}/endpoints/{created['id']}", {"url": "ftp://nope"}, format="json").status_code in (400, 409)

    reads = [api.get(f"{BASE}/endpoints"), api.get(f"{BASE}/events"), api.get(f"{BASE}/deliveries"), api.get("/metrics"), tested]
    for endpoint in (created, failing, refused):
        reads.append(api.get(f"{BASE}/endpoints/{endpoint['id']}"))
        reads.append(api.post(f"{BASE}/endpoints/{endpoint['id']}/preview", {"eventType": "product.created"}, format="json"))
    for delivery in api.get(f"{BASE}/deliveries").json():
        reads.append(api.get(f"{BASE}/deliveries/{delivery['id']}"))
    assert all(r.status_code == 200 for r in reads), [(r.status_code, r.content[:200]) for r in reads if r.status_code != 200]
    assert len(receiver.received) >= 5  # signed requests did go out

    forbidden = [*secrets, *(s.removeprefix("whsec_") for s in secrets), token, client_secret, "forged-token-that-must-not-be-logged-7f3a"]
    logs = rendered(everything_logged.records)
    assert any("Unauthorized" in line or "Internal" in line or "Bad Request" in line for line in logs)  # django.request did log
    leaks = [(value[:12], line[:300]) for line in logs for value in forbidden if value in line]
    assert not leaks
    api_text = b"".join(r.content for r in reads).decode()
    assert not [value[:12] for value in forbidden if value in api_text]

"""Webhook endpoints API: validation at save time, the secret shown once, versioned changes, rotation, isolation."""

import logging

import pytest

from subscriptions.endpoints.services import signing_secrets
from subscriptions.models import Endpoint
from subscriptions.services import CONFLICT_MESSAGE

pytestmark = pytest.mark.django_db

URL = "/webhook/acme/endpoints"
GOOD = {
    "url": "https://hooks.example.com/eventhub",
    "events": ["product.*", "entryCreated"],
    "eventFilter": {"data.user.uid": "admin", "data.group": "editors"},
    "customPayload": {"Id": "/data/id", "meta": {"title": "/data/title"}},
    "headers": {"X-Team": "catalog"},
    "description": "catalog sync",
}


def create(api, **changes):
    response = api.post(URL, {**GOOD, **changes}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_returns_the_secret_once_and_never_again(api, caplog):
    caplog.set_level(logging.DEBUG)
    body = create(api)
    assert body["secret"].startswith("whsec_")
    assert body["method"] == "POST" and body["timeoutSeconds"] == 15 and body["enabled"] is True
    assert body["metadata"]["version"] == 1
    detail = api.get(f"{URL}/{body['id']}")
    assert detail.status_code == 200 and "secret" not in detail.json()
    listed = api.get(URL).json()
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    assert body["secret"] not in detail.content.decode() + api.get(URL).content.decode()
    assert body["secret"] not in caplog.text


def test_rotate_secret_returns_a_new_secret_and_the_old_one_keeps_signing(api):
    body = create(api)
    rotated = api.post(f"{URL}/{body['id']}/rotate-secret")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != body["secret"]
    assert set(signing_secrets(Endpoint.objects.get(pk=body["id"]))) == {body["secret"], new}


def test_patch_needs_the_current_version_and_a_stale_one_is_409_changing_nothing(api):
    body = create(api)
    ok = api.patch(f"{URL}/{body['id']}", {"enabled": False, "metadata": {"version": 1}}, format="json")
    assert ok.status_code == 200 and ok.json()["enabled"] is False and ok.json()["metadata"]["version"] == 2
    for stale in ({"metadata": {"version": 1}}, {}):
        response = api.patch(f"{URL}/{body['id']}", {"description": "changed", **stale}, format="json")
        assert response.status_code == 409
        assert response.json()["message"] == CONFLICT_MESSAGE
    assert api.get(f"{URL}/{body['id']}").json()["description"] == "catalog sync"


@pytest.mark.parametrize(
    "changes, field, fragment",
    [
        ({"url": "ftp://example.com/x"}, "url", "http"),
        ({"url": "not a url"}, "url", ""),
        ({"method": "GET"}, "method", ""),
        ({"events": []}, "events", ""),
        ({"events": ["prodcut.*"]}, "events", "matches no event type"),
        ({"events": ["bad pattern!"]}, "events", "not an event type"),
        ({"eventFilter": {"data.price": {"$between": [1, 2]}}}, "eventFilter", "$between"),
        ({"eventFilter": {"data.name": {"$regex": "(unclosed"}}}, "eventFilter", "data.name"),
        ({"eventFilter": "data.x == 1"}, "eventFilter", "object"),
        ({"customPayload": {"Id": "data/id"}}, "customPayload", "Id"),
        ({"customPayload": {"Id": "/a~2b"}}, "customPayload", "Id"),
        ({"headers": {"Transfer-Encoding": "chunked"}}, "headers", "Transfer-Encoding"),
        ({"headers": {"webhook-signature": "v1,forged"}}, "headers", "webhook-signature"),
        ({"headers": {"X-Evil": "a\r\nInjected: 1"}}, "headers", "X-Evil"),
        ({"timeoutSeconds": 61}, "timeoutSeconds", ""),
        ({"secret": "whsec_mine"}, "secret", ""),
    ],
)
def test_invalid_endpoint_is_refused_at_save_time_naming_the_problem(api, changes, field, fragment):
    response = api.post(URL, {**GOOD, **changes}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert any(d["field"].startswith(field) for d in error["problems"]), error
    assert fragment in response.content.decode()
    assert not Endpoint.objects.exists()


def test_a_filter_with_too_many_regexes_is_refused_naming_the_path_and_the_limit(api):
    hostile = {"$or": [{"data.x": {"$regex": "(a|aa)+$"}} for _ in range(120)]}
    response = api.post(URL, {**GOOD, "eventFilter": hostile}, format="json")
    assert response.status_code == 400, response.content
    [detail] = response.json()["problems"]
    assert detail["field"] == "eventFilter.$or[16].data.x"
    assert "more than 16 $regex" in detail["message"]
    assert not Endpoint.objects.exists()
    body = create(api, eventFilter={"$or": hostile["$or"][:16]})  # at the limit: accepted
    too_many = {"$or": [*hostile["$or"][:16], {"data.y": {"$regex": "b"}}]}
    patched = api.patch(f"{URL}/{body['id']}", {"eventFilter": too_many, "metadata": {"version": 1}}, format="json")
    assert patched.status_code == 400 and patched.json()["problems"][0]["field"] == "eventFilter.$or[16].data.y"


def test_private_targets_are_refused_unless_allowed(api, settings):
    settings.EVENTHUB = {**settings.EVENTHUB, "ALLOW_PRIVATE_TARGETS": False}
    response = api.post(URL, {**GOOD, "url": "http://127.0.0.1:9000/hook"}, format="json")
    assert response.status_code == 400 and "url" in [d["field"] for d in response.json()["problems"]]
    settings.EVENTHUB = {**settings.EVENTHUB, "ALLOW_PRIVATE_TARGETS": True}
    assert api.post(URL, {**GOOD, "url": "http://127.0.0.1:9000/hook"}, format="json").status_code == 201


def test_endpoints_are_private_to_their_tenant(api, other_tenant, api_client_for):
    body = create(api)
    globex = api_client_for(other_tenant)
    assert globex.get(f"/webhook/globex/endpoints/{body['id']}").status_code == 404
    assert globex.get("/webhook/globex/endpoints").json() == []
    assert globex.delete(f"/webhook/globex/endpoints/{body['id']}").status_code == 404
    assert globex.post(f"/webhook/globex/endpoints/{body['id']}/rotate-secret").status_code == 404
    assert api.get(f"/webhook/globex/endpoints/{body['id']}").status_code == 403
    assert Endpoint.objects.filter(pk=body["id"]).exists()


def test_scopes_for_reading_and_managing_endpoints(tenant, api_client_for):
    reader = api_client_for(tenant, "webhook.endpoint_read")
    assert reader.get(URL).status_code == 200
    response = reader.post(URL, GOOD, format="json")
    assert response.status_code == 403 and "webhook.endpoint_manage" in response.json()["message"]


def test_delete_removes_the_endpoint(api):
    body = create(api)
    assert api.delete(f"{URL}/{body['id']}").status_code == 204
    assert api.get(f"{URL}/{body['id']}").status_code == 404
    assert api.get(f"{URL}/not-a-uuid").status_code == 404

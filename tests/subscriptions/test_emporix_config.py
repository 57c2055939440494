"""/webhook/{tenant}/config[/{code}]: Emporix's HTTP configuration served on eventhub's endpoints, so both APIs show
one state; SVIX providers refused; JsonPath filters translated or refused; op/path PATCH; DELETE ?force."""

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from subscriptions.models import EmporixConfig, Endpoint, EndpointSecret

pytestmark = pytest.mark.django_db

CONFIGS = "/webhook/acme/config"
HTTP = f"{CONFIGS}/http"
SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs/reference/emporix-webhook-service.yml").read_text())
POST_EXAMPLE = SPEC["paths"]["/webhook/{tenant}/config"]["post"]["requestBody"]["content"]["application/json"]["examples"]


def example(name):
    return copy.deepcopy(POST_EXAMPLE[name]["value"])


def config(api):
    response = api.get(HTTP)
    assert response.status_code == 200, response.content
    return response.json()


def endpoints(api):
    return api.get("/webhook/acme/endpoints").json()


def simple(**root):
    return {"code": "http", "active": True, "provider": "HTTP",
            "configuration": {"destinationUrl": "https://hooks.example.com/all", **root}}


def test_the_specs_http_example_creates_one_endpoint_per_entry_and_one_for_the_root(api):
    response = api.post(CONFIGS, example("HTTP"), format="json")
    assert response.status_code == 201 and response.json() == {"code": "http"}
    body = config(api)
    assert (body["code"], body["provider"], body["active"]) == ("http", "HTTP", True)
    configuration = body["configuration"]
    assert configuration["destinationUrl"] == "https://gcp.cloudfunctions.net/webhook?name=General"
    assert configuration["secretKeyExists"] is True and "secretKey" not in str(body).replace("secretKeyExists", "")
    assert configuration["headers"] == {"header1": {"value": "value1"}, "header2": {"value": "value2"}}
    first, second = configuration["eventsConfiguration"]
    assert first["id"] != second["id"] and first["eventType"] == second["eventType"] == "PRODUCT.CREATED"
    assert (first["filter"], first["excludedFields"], first["active"]) == ("$[?(@.code == 'abc')]", ["metadata"], True)
    assert first["headers"] == {"header3": {"value": "value3"}, "header4": {"value": "value4"}}
    assert second["destinationUrl"] == "https://gcp.cloudfunctions.net/webhook?name=Second" and second["excludedFields"] == []

    hub = endpoints(api)
    assert len(hub) == 3
    root = next(e for e in hub if e["events"] == ["*"])
    assert root["url"].endswith("General") and root["eventFilter"] == {"type": {"$nin": ["product.created"]}}
    detailed = next(e for e in hub if e["url"].endswith("Detailed"))
    assert detailed["events"] == ["product.created"] and detailed["eventFilter"] == {"data.code": {"$eq": "abc"}}
    assert detailed["headers"] == {"header1": "value1", "header2": "value2", "header3": "value3", "header4": "value4"}


def test_the_readmes_example_is_the_specs_and_works(api):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"<!-- emporix-config-example -->\s*```json\n(.*?)```", readme, re.S).group(1)
    body = json.loads(block)
    assert body == example("HTTP")
    assert api.post(CONFIGS, body, format="json").status_code == 201
    assert len(config(api)["configuration"]["eventsConfiguration"]) == 2 and Endpoint.objects.count() == 3


def test_a_second_configuration_of_the_same_type_is_a_409(api):
    assert api.post(CONFIGS, simple(), format="json").status_code == 201
    response = api.post(CONFIGS, simple(), format="json")
    assert response.status_code == 409 and response.json()["status"] == "Conflict"


@pytest.mark.parametrize("provider", ["SVIX", "SVIX_SHARED"])
def test_svix_providers_are_refused_clearly_and_nothing_is_stored(api, provider):
    response = api.post(CONFIGS, example(provider), format="json")
    assert response.status_code == 400
    assert "self-hosted" in response.json()["message"] and "provider HTTP" in response.json()["message"]
    assert not EmporixConfig.objects.exists() and not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "entry, field, fragment",
    [
        ({"id": "3f1a2b4c-5d6e-7f80-91a2-b3c4d5e6f708"}, "id", "server assigns"),
        ({"eventType": "PRODUCT.EXPLODED"}, "eventType", "no event type"),
        ({"filter": "$[?(@.code == 'abc'"}, "filter", "Not a valid JsonPath"),
        ({"filter": "$..code"}, "filter", "Only a predicate"),
        ({"filter": "$[?(@.a == @.b)]"}, "filter", "not a string, number"),
        ({"headers": {f"h{i}": {"value": "v"} for i in range(11)}}, "headers", "at most 10"),
        ({"headers": {"emporix-event-signature": {"value": "forged"}}}, "headers", "set by the hub"),
        ({"excludedFields": ["  "]}, "excludedFields", "non-blank"),
        ({"destinationUrl": "ftp://x"}, "destinationUrl", ""),
        ({"active": "yes"}, "active", "true or false"),
    ],
)
def test_a_bad_entry_is_a_400_naming_its_field_and_nothing_is_stored(api, entry, field, fragment):
    body = simple(eventsConfiguration=[{"eventType": "PRODUCT.CREATED", **entry}])
    response = api.post(CONFIGS, body, format="json")
    assert response.status_code == 400, response.content
    place = f"configuration.eventsConfiguration[0].{field}"
    assert any(p["field"].startswith(place) and fragment in p["message"] for p in response.json()["problems"]), response.json()
    assert not EmporixConfig.objects.exists() and not Endpoint.objects.exists()


def test_an_entry_without_a_destination_needs_one_at_the_root(api):
    body = {"code": "http", "provider": "HTTP", "configuration": {"eventsConfiguration": [{"eventType": "product.created"}]}}
    response = api.post(CONFIGS, body, format="json")
    assert response.status_code == 400
    assert response.json()["problems"][0]["field"] == "configuration.eventsConfiguration[0].destinationUrl"


def test_put_keeps_entries_by_id_adds_the_new_and_removes_the_missing(api):
    api.post(CONFIGS, example("HTTP"), format="json")
    first, second = config(api)["configuration"]["eventsConfiguration"]
    kept_endpoint = Endpoint.objects.get(emporix_target__entry_id=first["id"]).pk
    body = {"active": True, "provider": "HTTP", "configuration": {
        "destinationUrl": "https://hooks.example.com/general",
        "eventsConfiguration": [{**first, "filter": "$[?(@.status == 'NEW')]"}, {"eventType": "product.updated"}],
    }}
    assert api.put(HTTP, body, format="json").status_code == 204
    entries = config(api)["configuration"]["eventsConfiguration"]
    assert entries[0]["id"] == first["id"] and entries[0]["filter"] == "$[?(@.status == 'NEW')]"
    assert entries[1]["eventType"] == "product.updated" and entries[1]["id"] not in (first["id"], second["id"])
    assert Endpoint.objects.get(emporix_target__entry_id=first["id"]).pk == kept_endpoint
    assert Endpoint.objects.get(pk=kept_endpoint).event_filter == {"data.status": {"$eq": "NEW"}}
    assert not Endpoint.objects.filter(emporix_target__entry_id=second["id"]).exists()
    assert Endpoint.objects.count() == 3


def test_put_with_an_unknown_entry_id_is_a_400(api):
    api.post(CONFIGS, simple(), format="json")
    body = simple(eventsConfiguration=[{"id": "8a9b0c1d-2e3f-4a5b-6c7d-8e9f0a1b2c3d", "eventType": "PRODUCT.CREATED"}])
    response = api.put(HTTP, body, format="json")
    assert response.status_code == 400 and "No entry has the id" in response.json()["details"][0]


def test_put_of_a_legacy_payload_reuses_the_id_of_the_one_entry_of_its_type(api):
    api.post(CONFIGS, simple(eventsConfiguration=[{"eventType": "PRODUCT.CREATED"}]), format="json")
    [entry] = config(api)["configuration"]["eventsConfiguration"]
    api.put(HTTP, simple(eventsConfiguration=[{"eventType": "PRODUCT.CREATED", "name": "ERP"}]), format="json")
    [again] = config(api)["configuration"]["eventsConfiguration"]
    assert (again["id"], again["name"]) == (entry["id"], "ERP")


def patch(api, *operations):
    return api.patch(HTTP, list(operations), format="json")


def test_patch_operations_change_the_configuration_and_its_endpoints(api):
    api.post(CONFIGS, simple(eventsConfiguration=[{"eventType": "PRODUCT.CREATED"}]), format="json")
    [entry] = config(api)["configuration"]["eventsConfiguration"]
    entry_path = f"/configuration/http/eventsConfigurationEntry/{entry['id']}"
    response = patch(
        api,
        {"op": "UPSERT", "path": "/configuration/http/eventsConfigurationEntry",
         "value": {"name": "ERP integration", "eventType": "PRODUCT.UPDATED", "filter": "$[?(@.status == 'DECLINED')]"}},
        {"op": "UPSERT", "path": f"{entry_path}/active", "value": False},
        {"op": "UPSERT", "path": "/configuration/http/headers", "value": {"X-Key": {"value": "k"}}},
    )
    assert response.status_code == 204, response.content
    first, added = config(api)["configuration"]["eventsConfiguration"]
    assert first["active"] is False and added["name"] == "ERP integration"
    assert not Endpoint.objects.get(emporix_target__entry_id=entry["id"]).enabled
    assert Endpoint.objects.get(emporix_target__entry_id=added["id"]).headers == {"X-Key": "k"}
    assert patch(api, {"op": "REMOVE", "path": entry_path}).status_code == 204
    assert [e["id"] for e in config(api)["configuration"]["eventsConfiguration"]] == [added["id"]]
    assert patch(api, {"op": "UPSERT", "path": "/active", "value": False}).status_code == 204
    assert not Endpoint.objects.filter(enabled=True).exists()


def test_a_legacy_event_type_path_with_two_entries_of_that_type_is_a_409(api):
    api.post(CONFIGS, example("HTTP"), format="json")
    response = patch(api, {"op": "UPSERT", "path": "/configuration/http/eventsConfiguration/product.created/destinationUrl",
                           "value": "https://hooks.example.com/x"})
    assert response.status_code == 409 and response.json()["status"] == "Conflict"


@pytest.mark.parametrize(
    "operation, field",
    [
        ({"op": "MERGE", "path": "/active", "value": True}, "[0].op"),
        ({"op": "UPSERT", "path": "/nowhere", "value": 1}, "[0].path"),
        ({"op": "UPSERT", "path": "/configuration/svix/apiKey", "value": "k"}, "[0].path"),
        ({"op": "REMOVE", "path": "/configuration/http/eventsConfigurationEntry"}, "[0].op"),
        ({"op": "UPSERT", "path": "/configuration/http/eventsConfigurationEntry", "value": {"id": "x", "eventType": "PRODUCT.CREATED"}}, "[0].value.id"),
        ({"op": "UPSERT", "path": "/configuration/http/eventsConfigurationEntry/nope/name", "value": "x"}, "[0].path"),
        ({"op": "UPSERT", "path": "/configuration/http/destinationUrl", "value": "http://localhost/x"}, "configuration.destinationUrl"),
    ],
)
def test_a_bad_operation_is_a_400_naming_it_and_changes_nothing(api, operation, field):
    api.post(CONFIGS, simple(), format="json")
    before = config(api)
    response = patch(api, operation)
    assert response.status_code == 400, response.content
    assert response.json()["problems"][0]["field"] == field
    assert config(api) == before


def test_delete_refuses_an_active_configuration_unless_forced_and_removes_its_endpoints(api):
    api.post(CONFIGS, example("HTTP"), format="json")
    response = api.delete(HTTP)
    assert response.status_code == 409 and "force" in response.json()["message"]
    assert Endpoint.objects.count() == 3
    assert api.delete(f"{HTTP}?force=true").status_code == 204
    assert not Endpoint.objects.exists() and not EndpointSecret.objects.exists()
    assert api.get(HTTP).status_code == 404 and api.get(CONFIGS).json() == []


def test_changes_through_the_endpoints_api_show_in_the_configuration(api):
    api.post(CONFIGS, simple(eventsConfiguration=[{"eventType": "PRODUCT.CREATED"}, {"eventType": "PRODUCT.UPDATED"}]), format="json")
    first, second = config(api)["configuration"]["eventsConfiguration"]
    endpoint = Endpoint.objects.get(emporix_target__entry_id=first["id"])
    api.patch(f"/webhook/acme/endpoints/{endpoint.pk}", {"url": "https://elsewhere.example.com/", "enabled": False,
                                                          "metadata": {"version": endpoint.version}}, format="json")
    api.delete(f"/webhook/acme/endpoints/{Endpoint.objects.get(emporix_target__entry_id=second['id']).pk}")
    [shown] = config(api)["configuration"]["eventsConfiguration"]
    assert (shown["destinationUrl"], shown["active"]) == ("https://elsewhere.example.com/", False)
    # and a PATCH through the config API keeps what the endpoints API changed
    assert patch(api, {"op": "UPSERT", "path": f"/configuration/http/eventsConfigurationEntry/{first['id']}/name", "value": "n"}).status_code == 204
    assert Endpoint.objects.get(pk=endpoint.pk).url == "https://elsewhere.example.com/"


def test_header_values_and_secret_keys_are_not_shown_to_a_reader(api, tenant, api_client_for):
    api.post(CONFIGS, example("HTTP"), format="json")
    reader = api_client_for(tenant, "webhook.subscription_read")
    body = reader.get(HTTP).json()
    assert body["configuration"]["headers"] == {"header1": {}, "header2": {}}
    assert "password123" not in reader.get(HTTP).content.decode() and "admin123" not in api.get(HTTP).content.decode()


def test_another_tenants_token_cannot_read_or_change_the_configuration(api, other_tenant, api_client_for):
    api.post(CONFIGS, simple(), format="json")
    stranger = api_client_for(other_tenant)
    assert stranger.get(HTTP).status_code == 403 and stranger.delete(f"{HTTP}?force=true").status_code == 403
    assert stranger.get("/webhook/globex/config").json() == []

"""The API's door to an endpoint's `ordering`: set on create, changed and removed by PATCH, answered, in the schema.
(Refusals in the rules' words, the same at every door: test_validators_every_door.py.)"""

import pytest
from drf_spectacular.generators import SchemaGenerator

from subscriptions.models import Endpoint

pytestmark = pytest.mark.django_db
URL = "/webhook/acme/endpoints"


def test_ordering_is_set_changed_and_removed_through_the_api(api):
    created = api.post(URL, {"url": "https://hooks.example.com/a", "events": ["product.*"], "ordering": {"key": "/data/entryID"}},
                       format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["ordering"] == {"key": "/data/entryID"}
    patched = api.patch(f"{URL}/{body['id']}", {"ordering": {"key": "/data/order/id"}, "metadata": {"version": 1}}, format="json")
    assert patched.status_code == 200 and patched.json()["ordering"] == {"key": "/data/order/id"}
    assert api.get(f"{URL}/{body['id']}").json()["ordering"] == {"key": "/data/order/id"}
    other = api.patch(f"{URL}/{body['id']}", {"description": "erp", "metadata": {"version": 2}}, format="json")
    assert other.status_code == 200 and other.json()["ordering"] == {"key": "/data/order/id"}  # a PATCH without it keeps it
    removed = api.patch(f"{URL}/{body['id']}", {"ordering": None, "metadata": {"version": 3}}, format="json")
    assert removed.status_code == 200 and removed.json()["ordering"] is None
    assert Endpoint.objects.get().ordering is None


def test_an_endpoint_without_ordering_answers_null(api):
    created = api.post(URL, {"url": "https://hooks.example.com/a", "events": ["product.*"]}, format="json")
    assert created.json()["ordering"] is None


def test_a_bad_patch_of_ordering_is_refused_naming_ordering_key_and_changes_nothing(api):
    body = api.post(URL, {"url": "https://hooks.example.com/a", "events": ["product.*"], "ordering": {"key": "/data/a"}},
                    format="json").json()
    refused = api.patch(f"{URL}/{body['id']}", {"ordering": {"key": "/data/a~9"}, "metadata": {"version": 1}}, format="json")
    assert refused.status_code == 400
    body = refused.json()
    [problem] = body.get("problems", body["details"])  # "problems": the error shape of this API (Emporix's)
    assert problem["field"] == "ordering.key" and "'~' must be followed by 0 or 1" in problem["message"]
    assert Endpoint.objects.get().ordering == {"key": "/data/a"} and Endpoint.objects.get().version == 1


def test_the_schema_describes_ordering_on_the_way_in_and_out():
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    for name in ("Endpoint", "EndpointOutput"):
        found = [s for key, s in schemas.items() if key.startswith(name) and "ordering" in s.get("properties", {})]
        assert found, name
        ordering = found[0]["properties"]["ordering"]
        assert ordering["properties"]["key"]["maxLength"] == 200 and ordering["nullable"] and ordering["required"] == ["key"]

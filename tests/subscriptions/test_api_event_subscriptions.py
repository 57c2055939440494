"""GET/PATCH /webhook/{tenant}/event-subscriptions, byte-compatible with the Emporix document (seed 003)."""

import json
import re

import pytest

from subscriptions.models import EventSubscription
from subscriptions.services import CONFLICT_MESSAGE

pytestmark = pytest.mark.django_db

URL = "/webhook/acme/event-subscriptions"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def patch(api, items, **headers):
    return api.patch(URL, items, format="json", **headers)


def get_item(api, event_type, **headers):
    response = api.get(URL, {"eventType": event_type}, **headers)
    assert response.status_code == 200
    (item,) = response.json()
    return item


def test_get_lists_the_whole_catalog_with_none_for_types_never_subscribed(api):
    response = api.get(URL)
    assert response.status_code == 200
    items = response.json()
    types = [item["event"]["type"] for item in items]
    assert {"product.created", "entryCreated", "entry.insert", "ObjectLockedEvent", "sundry_saved"} <= set(types)
    assert len(types) == len(set(types))
    item = next(i for i in items if i["event"]["type"] == "product.updated")
    assert item == {
        "event": {
            "type": "product.updated",
            "eventSchema": {"id": "String", "name": "LocalizedString", "description": "LocalizedString", "productType": "String"},
            "name": {"en": "Updated"},
            "group": {"en": "Product"},
            "description": {"en": "The event is emitted when a product is being updated."},
        },
        "metadata": {},
        "subscription": "NONE",
        "excludedFields": [],
    }


def test_first_subscription_without_version_gets_version_1_with_timestamps(api):
    response = patch(api, [{"eventType": "product.updated", "action": "SUBSCRIBE", "fieldsToUnsubscribe": ["description"]}])
    assert response.status_code == 207
    assert response.json() == [{"eventType": "product.updated", "code": 200, "status": "OK"}]
    item = get_item(api, "product.updated")
    assert item["subscription"] == "SUBSCRIBED"
    assert item["excludedFields"] == ["description"]
    assert item["metadata"]["version"] == 1
    assert ISO_MS.match(item["metadata"]["createdAt"]) and ISO_MS.match(item["metadata"]["modifiedAt"])


def test_each_successful_change_increments_the_version(api):
    patch(api, [{"eventType": "product.created", "action": "SUBSCRIBE"}])
    for version in (1, 2, 3):
        action = "UNSUBSCRIBE" if version % 2 else "SUBSCRIBE"
        response = patch(api, [{"eventType": "product.created", "action": action, "metadata": {"version": version}}])
        assert response.json()[0]["code"] == 200
        assert get_item(api, "product.created")["metadata"]["version"] == version + 1
    item = get_item(api, "product.created")
    assert item["subscription"] == "UNSUBSCRIBED"  # the last change, version 3 -> 4
    assert item["metadata"]["createdAt"] <= item["metadata"]["modifiedAt"]


def test_stale_version_returns_409_with_the_emporix_text_and_changes_nothing(api):
    patch(api, [{"eventType": "product.created", "action": "SUBSCRIBE"}])
    patch(api, [{"eventType": "product.created", "fieldsToUnsubscribe": ["name"], "metadata": {"version": 1}}])
    before = get_item(api, "product.created")

    response = patch(api, [{"eventType": "product.created", "action": "UNSUBSCRIBE", "fieldsToSubscribe": ["name"], "metadata": {"version": 1}}])

    assert response.status_code == 207
    assert response.json() == [
        {
            "eventType": "product.created",
            "code": 409,
            "status": "CONFLICT",
            "message": "Unique constraint violation for provided eventType and metadata version. It is possible to update an "
            "eventsubscription only by always providing the latest version. Fetch the event subscriptions to get the latest version.",
        }
    ]
    assert get_item(api, "product.created") == before


def test_missing_version_on_an_existing_subscription_is_a_conflict(api):
    patch(api, [{"eventType": "product.created", "action": "SUBSCRIBE"}])
    response = patch(api, [{"eventType": "product.created", "action": "UNSUBSCRIBE"}])
    assert response.json()[0] == {"eventType": "product.created", "code": 409, "status": "CONFLICT", "message": CONFLICT_MESSAGE}
    assert get_item(api, "product.created")["subscription"] == "SUBSCRIBED"


def test_seed_patch_example_answer_for_answer(api, tenant):
    # The document's state: product.created at version 1, product.updated at version 2, and product.deleted
    # changed meanwhile by someone else (version 3), which this client still believes is version 1.
    patch(api, [{"eventType": t, "action": "SUBSCRIBE"} for t in ("product.created", "product.updated", "product.deleted")])
    patch(api, [{"eventType": "product.updated", "fieldsToUnsubscribe": ["productType"], "metadata": {"version": 1}}])
    patch(api, [{"eventType": "product.deleted", "action": "UNSUBSCRIBE", "metadata": {"version": 1}}])
    patch(api, [{"eventType": "product.deleted", "action": "SUBSCRIBE", "metadata": {"version": 2}}])

    body = [
        {
            "eventType": "product.created",
            "action": "SUBSCRIBE",
            "fieldsToSubscribe": ["name"],
            "fieldsToUnsubscribe": ["description"],
            "metadata": {"version": 1},
        },
        {"eventType": "product.updated", "action": "UNSUBSCRIBE", "metadata": {"version": 2}},
        {"eventType": "product.deleted", "action": "UNSUBSCRIBE", "metadata": {"version": 1}},
    ]
    response = patch(api, body)

    assert response.status_code == 207
    assert response.json() == [
        {"eventType": "product.created", "code": 200, "status": "OK"},
        {"eventType": "product.updated", "code": 200, "status": "OK"},
        {
            "eventType": "product.deleted",
            "code": 409,
            "status": "CONFLICT",
            "message": "Unique constraint violation for provided eventType and metadata version. It is possible to update an eventsubscription only by always providing the latest version. Fetch the event subscriptions to get the latest version.",
        },
    ]
    created = get_item(api, "product.created")
    assert (created["subscription"], created["excludedFields"], created["metadata"]["version"]) == ("SUBSCRIBED", ["description"], 2)
    updated = get_item(api, "product.updated")
    assert (updated["subscription"], updated["metadata"]["version"]) == ("UNSUBSCRIBED", 3)
    deleted = get_item(api, "product.deleted")
    assert (deleted["subscription"], deleted["metadata"]["version"]) == ("SUBSCRIBED", 3)


def test_fields_to_subscribe_reinclude_previously_excluded_fields(api):
    patch(api, [{"eventType": "product.created", "action": "SUBSCRIBE", "fieldsToUnsubscribe": ["name", "description"]}])
    patch(api, [{"eventType": "product.created", "fieldsToSubscribe": ["name"], "metadata": {"version": 1}}])
    item = get_item(api, "product.created")
    assert item["excludedFields"] == ["description"]
    assert item["subscription"] == "SUBSCRIBED"


def test_items_are_independent_unknown_type_404_and_unknown_field_400(api):
    response = patch(
        api,
        [
            {"eventType": "no.such.type", "action": "SUBSCRIBE"},
            {"eventType": "product.created", "action": "SUBSCRIBE", "fieldsToUnsubscribe": ["colour"]},
            {"eventType": "product.updated", "action": "SUBSCRIBE"},
        ],
    )
    assert response.status_code == 207
    missing, bad_field, ok = response.json()
    assert (missing["eventType"], missing["code"], missing["status"]) == ("no.such.type", 404, "NOT_FOUND")
    assert (bad_field["code"], bad_field["status"]) == (400, "BAD_REQUEST")
    assert "'colour'" in bad_field["message"]
    assert ok == {"eventType": "product.updated", "code": 200, "status": "OK"}
    assert get_item(api, "product.created")["subscription"] == "NONE"
    assert get_item(api, "product.updated")["subscription"] == "SUBSCRIBED"


@pytest.mark.parametrize(
    "item, field",
    [
        ({"action": "SUBSCRIBE"}, "[0].eventType"),
        ({"eventType": 42, "action": "SUBSCRIBE"}, "[0].eventType"),
        ({"eventType": "product.created", "action": "FOLLOW"}, "[0].action"),
        ({"eventType": "product.created", "fieldsToUnsubscribe": "name"}, "[0].fieldsToUnsubscribe"),
        ({"eventType": "product.created", "metadata": {"version": "1"}}, "[0].metadata.version"),
        ({"eventType": "product.created", "metadata": {"version": True}}, "[0].metadata.version"),
        ({"eventType": "product.created", "metadata": {"version": 0}}, "[0].metadata.version"),
        ({"eventType": "product.created", "metadata": {"version": -3}}, "[0].metadata.version"),
    ],
)
def test_an_item_that_breaks_the_emporix_schema_is_a_400_naming_it_and_nothing_is_applied(api, item, field):
    response = patch(api, [item, {"eventType": "product.updated", "action": "SUBSCRIBE"}])
    assert response.status_code == 400
    error = response.json()
    assert (error["code"], error["status"]) == (400, "Bad Request")
    assert [p["field"] for p in error["problems"]] == [field]
    assert error["details"][0].startswith(f"{field}: ")
    assert not EventSubscription.objects.exists()  # not even the good second item


def test_a_version_below_1_is_a_400_not_a_conflict_on_an_existing_subscription(api):
    patch(api, [{"eventType": "product.created", "action": "SUBSCRIBE"}])
    response = patch(api, [{"eventType": "product.created", "action": "UNSUBSCRIBE", "metadata": {"version": 0}}])
    assert response.status_code == 400
    assert get_item(api, "product.created")["subscription"] == "SUBSCRIBED"


def test_properties_emporix_does_not_name_are_accepted_and_ignored(api):
    # A client may send back what it read (metadata.createdAt) or properties of a newer Emporix version.
    patch(api, [{"eventType": "product.created", "action": "SUBSCRIBE"}])
    read = get_item(api, "product.created")
    response = patch(api, [{"eventType": "product.created", "action": "UNSUBSCRIBE", "metadata": read["metadata"],
                            "fieldsToUnsubcribe": ["name"], "comment": {"any": "thing"}}])
    assert response.status_code == 207 and response.json() == [{"eventType": "product.created", "code": 200, "status": "OK"}]
    item = get_item(api, "product.created")
    assert (item["subscription"], item["excludedFields"], item["metadata"]["version"]) == ("UNSUBSCRIBED", [], 2)


def test_the_same_field_in_both_lists_is_refused(api):
    response = patch(api, [{"eventType": "product.created", "fieldsToSubscribe": ["name"], "fieldsToUnsubscribe": ["name"]}])
    assert response.json()[0]["code"] == 400
    assert "'name'" in response.json()[0]["message"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"eventType": "product.created"}, "The body must be a JSON list of objects."),
        ("just text", "The body must be a JSON list of objects."),
        ([1, 2], "Expected an object."),
    ],
)
def test_body_that_is_not_a_list_of_objects_is_400_in_the_common_error_shape(api, body, message):
    response = patch(api, body)
    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"code", "status", "message", "details", "problems"}
    assert error["code"] == 400 and error["status"] == "Bad Request"
    assert message in json.dumps(error)
    assert not EventSubscription.objects.exists()


def test_more_than_1000_items_is_400_and_nothing_is_applied(api):
    items = [{"eventType": "product.created", "action": "SUBSCRIBE"}] * 1001
    response = patch(api, items)
    assert response.status_code == 400
    assert "1001" in response.json()["message"]
    assert not EventSubscription.objects.exists()


def test_body_over_1_mib_is_400_and_nothing_is_applied(api):
    filler = "x" * (1024 * 1024)
    response = api.patch(URL, json.dumps([{"eventType": "product.created", "action": "SUBSCRIBE", "pad": filler}]), content_type="application/json")
    assert response.status_code == 400
    assert "larger than" in response.json()["message"]
    assert not EventSubscription.objects.exists()


@pytest.mark.parametrize("raw", ['[{"eventType": ', "[NaN]", "\xff\xfe", "[" * 100000 + "]" * 100000])
def test_malformed_json_is_400_in_the_common_error_shape(api, raw):
    response = api.patch(URL, raw.encode("latin-1") if raw.startswith("\xff") else raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status"] == "Bad Request"


def test_filters_by_subscription_state_and_event_type(api):
    patch(api, [{"eventType": "product.created", "action": "SUBSCRIBE"}, {"eventType": "product.updated", "action": "UNSUBSCRIBE"}])
    subscribed = api.get(URL, {"subscription": "SUBSCRIBED"}).json()
    assert [i["event"]["type"] for i in subscribed] == ["product.created"]
    both = api.get(URL, {"eventType": "product.created,product.updated,product.deleted", "subscription": "UNSUBSCRIBED,NONE"}).json()
    assert [i["event"]["type"] for i in both] == ["product.updated", "product.deleted"]
    bad = api.get(URL, {"subscription": "MAYBE"})
    assert bad.status_code == 400 and "MAYBE" in bad.json()["message"]


class TestAcceptLanguage:
    def test_q_factors_pick_the_best_available_language(self, api):
        item = get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7")
        assert set(item["event"]["name"]) == {"en"}
        item = get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="fr-CH, fr;q=0.9, de;q=0.8, en;q=0.7")
        assert set(item["event"]["name"]) == {"de"}
        assert item["event"]["group"] == {"de": "Produkt"}

    def test_region_subtag_falls_back_to_its_language(self, api):
        assert set(get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="de-CH")["event"]["description"]) == {"de"}

    def test_no_header_or_no_match_uses_the_tenant_default_language(self, api, tenant):
        tenant.default_language = "de"
        tenant.save()
        assert set(get_item(api, "product.created")["event"]["name"]) == {"de"}
        assert set(get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="fr, ja;q=0.5")["event"]["name"]) == {"de"}

    def test_a_language_the_tenant_does_not_have_is_ignored_and_its_default_answers(self, api, tenant):
        # Emporix: Accept-Language languages must be the project's (project_lang), "otherwise they will be ignored".
        tenant.languages, tenant.default_language = ["en", "fr"], "en"
        tenant.save()
        assert set(get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="de, en;q=0.5")["event"]["name"]) == {"en"}
        assert set(get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="de-CH, fr;q=0.9")["event"]["name"]) == {"en"}
        tenant.languages, tenant.default_language = ["de", "en"], "de"
        tenant.save()
        assert set(get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="en-GB, de;q=0.5")["event"]["name"]) == {"en"}
        assert set(get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="nl")["event"]["name"]) == {"de"}

    @pytest.mark.parametrize("key", ["entry.insert", "media.upload", "job.failed"])
    def test_codex_types_have_german_names(self, api, key):
        event = get_item(api, key, HTTP_ACCEPT_LANGUAGE="de")["event"]
        assert set(event["name"]) == set(event["group"]) == set(event["description"]) == {"de"}

    def test_ceta_says_it_has_no_german_names_and_answers_in_english(self, api):
        from subscriptions.catalog import catalog_sources

        ceta = next(doc for doc in catalog_sources() if doc["source"] == "ceta")
        assert ceta["languages"] == ["en"] and "nur auf Englisch" in ceta["description"]["de"]
        assert set(get_item(api, "project_created", HTTP_ACCEPT_LANGUAGE="de")["event"]["name"]) == {"en"}

    def test_q_zero_excludes_a_language_and_garbage_is_ignored(self, api):
        item = get_item(api, "product.created", HTTP_ACCEPT_LANGUAGE="de;q=0, ;;, en;q=abc, en")
        assert set(item["event"]["name"]) == {"en"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_patches_with_the_same_version_cannot_both_win(tenant, api_client_for):
    import threading

    from django.db import connection as default_connection

    api = api_client_for(tenant)
    patch(api, [{"eventType": "product.created", "action": "SUBSCRIBE"}])
    rounds, racers = 10, 4
    for round_number in range(rounds):
        version = round_number + 1
        barrier = threading.Barrier(racers)
        codes = []

        def race(index):
            client = api_client_for(tenant)
            barrier.wait()
            action = "UNSUBSCRIBE" if index % 2 else "SUBSCRIBE"
            response = patch(client, [{"eventType": "product.created", "action": action, "fieldsToUnsubscribe": ["name"], "metadata": {"version": version}}])
            codes.append(response.json()[0]["code"])
            default_connection.close()

        threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200] + [409] * (racers - 1), f"round {round_number}: {codes}"
    assert EventSubscription.objects.get(tenant=tenant, event_type__key="product.created").version == rounds + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_first_subscriptions_cannot_both_win(tenant, api_client_for):
    import threading

    from django.db import connection as default_connection

    for key in ("product.created", "product.updated", "entryCreated", "ObjectCreatedEvent"):
        barrier = threading.Barrier(2)
        codes = []

        def race():
            client = api_client_for(tenant)
            barrier.wait()
            codes.append(patch(client, [{"eventType": key, "action": "SUBSCRIBE"}]).json()[0]["code"])
            default_connection.close()

        threads = [threading.Thread(target=race) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200, 409], f"{key}: {codes}"

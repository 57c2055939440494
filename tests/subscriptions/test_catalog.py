"""The built-in catalog: every event type of the five seed documents, declared once, synced idempotently."""

import pytest
from django.core.management import call_command

from subscriptions.catalog import builtin_definitions, catalog_sources, sync_catalog
from subscriptions.models import SCHEMA_TYPES, EventType

CETA = """allocation_change client_attend_added client_attend_deleted client_attend_modified despatch_data_update
despatch_status_change dmg_actual_modified dmg_description_modified dmg_input_added dmg_input_deleted dmg_input_modified
dmg_job_allocated dmg_operation_deleted dmg_operation_modified dmg_output_added dmg_output_deleted dmg_output_modified
dmg_quantity_modified dmg_service_added dmg_service_deleted dmg_work_started dmg_work_stopped gekko_create job_completed
job_detail_added job_detail_completed job_detail_deleted job_detail_started job_detail_stopped job_saved job_status_change
lead_added lead_comment_added lead_status_assigned lead_status_modified library_data_update library_item_created
po_status_change project_comment_added project_created project_status_change quote_created quote_status_change
rss_actuals_completed rss_added rss_deleted rss_modified rs_added rs_deleted rs_modified sundry_saved""".split()

OPENREGISTER = [f"Object{a}Event" for a in ("Created", "Updated", "Deleted", "Locked", "Unlocked", "Reverted")] + [
    f"{entity}{action}Event"
    for entity in ("Register", "Schema", "Application", "Agent", "Source", "Configuration", "View", "Conversation", "Organisation")
    for action in ("Created", "Updated", "Deleted")
]

CODEX = [
    f"{kind}.{event}"
    for kind, events in {
        "entry": "insert autosave delete publish update unpublish schedule unschedule archive",
        "list": "insert update delete",
        "media": "upload update delete",
        "author": "insert update delete",
        "section": "insert update delete",
        "url": "insert update",
        "tag": "insert update delete",
        "label": "added removed",
        "job": "completed failed",
    }.items()
    for event in events.split()
]

ENTRECODE = """entryCreated entryUpdated entryDeleted assetCreated assetUpdated assetDeleted loggedIn datamanagerCreated
datamanagerUpdated modelCreated modelUpdated modelDeleted assetgroupCreated assetgroupUpdated accountDeleted
permissionsUpdated tokenRevoked abo_renewed cmd.sendMail cmd.sendPush""".split()


def keys_of(source):
    return [t["key"] for doc in catalog_sources() if doc["source"] == source for t in doc["types"]]


@pytest.mark.parametrize(
    "source, expected, exact",
    [("ceta", CETA, True), ("openregister", OPENREGISTER, True), ("codex", CODEX, True), ("entrecode", ENTRECODE, False)],
)
def test_every_event_type_named_in_the_seed_documents_is_in_the_catalog(source, expected, exact):
    keys = keys_of(source)
    assert set(expected) <= set(keys), sorted(set(expected) - set(keys))
    if exact:
        assert len(keys) == len(expected) == len(set(keys))


def test_emporix_product_events_carry_the_documented_schema():
    definitions = builtin_definitions()
    for key in ("product.created", "product.updated"):
        assert definitions[key]["event_schema"] == {"id": "String", "name": "LocalizedString", "description": "LocalizedString", "productType": "String"}
    assert definitions["product.updated"]["name"]["en"] == "Updated"
    assert definitions["product.updated"]["group"]["en"] == "Product"
    assert "product.deleted" in definitions
    assert len([k for k in definitions if definitions[k]["source"] == "emporix"]) > 3


def test_every_type_is_localized_and_has_a_valid_schema():
    for key, d in builtin_definitions().items():
        for field in ("name", "group", "description"):
            assert d[field].get("en"), f"{key}: {field} has no English text"
        assert all(t in SCHEMA_TYPES for t in d["event_schema"].values()), key
        assert d["example"] is None or isinstance(d["example"], dict), key


def test_examples_are_drawn_from_the_documents():
    definitions = builtin_definitions()
    assert definitions["entryUpdated"]["example"]["modelID"] == "17448b37-e359-404a-84aa-35f10765ba44"
    assert definitions["ObjectCreatedEvent"]["example"]["object"]["uuid"] == "550e8400-e29b-41d4-a716-446655440000"
    assert definitions["entry.publish"]["example"]["object"]["id"] == "ce9NGrW6Tl"
    # German-speaking sources are localized in German too
    assert definitions["entryCreated"]["name"].get("de")
    assert definitions["product.created"]["name"].get("de")


@pytest.mark.django_db
def test_sync_catalog_is_idempotent_and_repairs_drift(capsys):
    total = len(builtin_definitions())
    assert EventType.objects.filter(tenant__isnull=True).count() == total  # synced by migrate
    assert sync_catalog() == {"created": 0, "updated": 0, "unchanged": total, "retired": []}

    EventType.objects.filter(key="product.created").update(name={"en": "tampered"})
    EventType.objects.filter(key="sundry_saved").delete()
    call_command("sync_catalog")
    assert "1 created, 1 updated" in capsys.readouterr().out
    assert EventType.objects.get(key="product.created").name["en"] == "Created"
    assert EventType.objects.filter(tenant__isnull=True).count() == total


def test_the_hubs_own_operational_types_are_a_source_whose_examples_follow_their_schema():
    from subscriptions.operational import TYPES

    assert keys_of("eventhub") == list(TYPES)
    definitions = builtin_definitions()
    for key in TYPES:
        d = definitions[key]
        assert d["source"] == "eventhub" and d["name"].get("de") and d["group"].get("de")
        assert set(d["example"]) == set(d["event_schema"]), key  # every field documented, none undocumented
        kinds = {"String": str, "Integer": int}
        assert all(isinstance(value, kinds[d["event_schema"][field]]) for field, value in d["example"].items()), key

"""Writes to the catalog and to tenant event subscriptions; each function is one business rule with its transaction."""

from dataclasses import dataclass, field
from http import HTTPStatus

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from subscriptions.models import EventSubscription, EventType, SubscriptionState
from subscriptions.selectors import find_event_type

CONFLICT_MESSAGE = (
    "Unique constraint violation for provided eventType and metadata version. It is possible to update an "
    "eventsubscription only by always providing the latest version. Fetch the event subscriptions to get the latest version."
)
SUBSCRIBE, UNSUBSCRIBE = "SUBSCRIBE", "UNSUBSCRIBE"


@dataclass(frozen=True)
class SubscriptionChange:
    event_type: str
    action: str | None = None
    fields_to_subscribe: tuple = ()
    fields_to_unsubscribe: tuple = ()
    version: int | None = None


@dataclass
class ItemResult:
    """One entry of a 207 multi-status answer."""

    event_type: object
    code: int
    message: str | None = None
    details: list = field(default_factory=list)

    @property
    def ok(self):
        return self.code == 200

    def as_dict(self):
        body = {"eventType": self.event_type, "code": self.code, "status": HTTPStatus(self.code).name}
        if self.message:
            body["message"] = self.message
        if self.details:
            body["details"] = self.details
        return body


def apply_subscription_change(tenant, change: SubscriptionChange, now=None) -> ItemResult:
    """Apply one PATCH item atomically. A stale or missing version on an existing subscription changes nothing (409)."""
    event_type = find_event_type(tenant, change.event_type)
    if event_type is None:
        return ItemResult(change.event_type, 404, f"Event type '{change.event_type}' does not exist.")

    unknown = unknown_fields(event_type, list(change.fields_to_subscribe) + list(change.fields_to_unsubscribe))
    if unknown:
        return ItemResult(
            change.event_type,
            400,
            not_a_field_message(event_type, unknown[0]),
            [{"field": name, "message": "not in the event type's eventSchema"} for name in unknown],
        )
    both = sorted(set(change.fields_to_subscribe) & set(change.fields_to_unsubscribe))
    if both:
        return ItemResult(change.event_type, 400, f"Field '{both[0]}' is both in fieldsToSubscribe and fieldsToUnsubscribe.")

    now = now or timezone.now()
    with transaction.atomic():
        current = EventSubscription.objects.select_for_update().filter(tenant=tenant, event_type=event_type).first()
        if current is None:
            return _create_subscription(tenant, event_type, change, now)
        if change.version is None or change.version != current.version:
            return ItemResult(change.event_type, 409, CONFLICT_MESSAGE)
        # Compare-and-swap on the version: on any database, of two writers holding the same version one wins.
        updated = EventSubscription.objects.filter(pk=current.pk, version=current.version).update(
            state=_state_for(change.action, current.state),
            excluded_fields=_excluded_after(current.excluded_fields, change),
            version=F("version") + 1,
            modified_at=now,
        )
    if not updated:
        return ItemResult(change.event_type, 409, CONFLICT_MESSAGE)
    return ItemResult(change.event_type, 200)


def unknown_fields(event_type, names) -> list:
    """Those of `names` (duplicates once) that are not fields of the event type's eventSchema: fields a subscription
    may leave out of its deliveries are the type's own (the API's PATCH and the admin's form both ask this)."""
    return [name for name in dict.fromkeys(names) if name not in event_type.event_schema]


def not_a_field_message(event_type, name) -> str:
    known = ", ".join(event_type.event_schema) or "none"
    return f"Field '{name}' is not a field of event type '{event_type.key}'; its fields are: {known}."


def _create_subscription(tenant, event_type, change, now):
    try:
        with transaction.atomic():
            EventSubscription.objects.create(
                tenant=tenant,
                event_type=event_type,
                # Field choices without an action record a preference but subscribe to nothing.
                state=_state_for(change.action, SubscriptionState.UNSUBSCRIBED),
                excluded_fields=_excluded_after([], change),
                version=1,
                created_at=now,
                modified_at=now,
            )
    except IntegrityError:
        # Someone created it between our read and our insert: our view of it (none) is stale.
        return ItemResult(change.event_type, 409, CONFLICT_MESSAGE)
    return ItemResult(change.event_type, 200)


def _state_for(action, current):
    if action == SUBSCRIBE:
        return SubscriptionState.SUBSCRIBED
    if action == UNSUBSCRIBE:
        return SubscriptionState.UNSUBSCRIBED
    return current


def _excluded_after(excluded, change):
    result = [name for name in excluded if name not in change.fields_to_subscribe]
    result += [name for name in dict.fromkeys(change.fields_to_unsubscribe) if name not in result]
    return result


# --- custom event types ---------------------------------------------------------------------


class EventTypeConflict(Exception):
    pass


def create_custom_event_type(tenant, key, values):
    """Register a tenant's own event type; its key may not shadow a built-in or an existing type."""
    with transaction.atomic():
        if find_event_type(tenant, key) is not None:
            raise EventTypeConflict(f"Event type '{key}' already exists.")
        try:
            with transaction.atomic():
                return EventType.objects.create(tenant=tenant, key=key, source="custom", position=1_000_000, **values)
        except IntegrityError:
            raise EventTypeConflict(f"Event type '{key}' already exists.")


def update_custom_event_type(event_type, values):
    for name, value in values.items():
        setattr(event_type, name, value)
    event_type.save()
    return event_type


def delete_custom_event_type(event_type):
    event_type.delete()

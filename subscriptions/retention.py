"""Data retention: old events (with their deliveries and attempts), dead letters and portal links that ended long ago go;
nothing still pending does."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from eventhub.conf import hub_setting
from subscriptions.models import DeadLetter, Delivery, DeliveryStatus, Event, PortalLink

CHUNK = 1000  # rows per transaction, so pruning a large log never holds long locks


@dataclass
class PruneResult:
    events: int = 0
    deliveries: int = 0
    dead_letters: int = 0
    kept_pending: int = 0  # old events kept because a delivery of theirs is still pending
    portal_links: int = 0  # expired or revoked before the cutoff


def prune(days=None, now=None, dry_run=False) -> PruneResult:
    """Remove events received and dead letters stored more than `days` (default RETENTION_DAYS) ago, and portal links
    that expired or were revoked before then."""
    days = hub_setting("RETENTION_DAYS") if days is None else days
    if days < 0:
        raise ValueError("days must be 0 or more")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    pending = Delivery.objects.filter(event=OuterRef("pk"), status=DeliveryStatus.PENDING)
    old = Event.objects.filter(received_at__lt=cutoff)
    prunable = old.filter(~Exists(pending))
    result = PruneResult(kept_pending=old.filter(Exists(pending)).count())
    ended_links = PortalLink.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff))
    if dry_run:
        result.portal_links = ended_links.count()
        result.events = prunable.count()
        result.deliveries = Delivery.objects.filter(event__in=prunable).count()
        result.dead_letters = DeadLetter.objects.filter(received_at__lt=cutoff).count()
        return result
    while True:
        ids = list(prunable.values_list("pk", flat=True)[:CHUNK])
        if not ids:
            break
        with transaction.atomic():
            # Re-check inside the transaction: a retry may have re-armed one of these meanwhile.
            ids = list(Event.objects.filter(pk__in=ids).filter(~Exists(pending)).values_list("pk", flat=True))
            result.deliveries += Delivery.objects.filter(event_id__in=ids).count()
            result.events += Event.objects.filter(pk__in=ids).delete()[1].get("subscriptions.Event", 0)
    while True:
        ids = list(DeadLetter.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:CHUNK])
        if not ids:
            break
        result.dead_letters += DeadLetter.objects.filter(pk__in=ids).delete()[0]
    result.portal_links = ended_links.delete()[1].get("subscriptions.PortalLink", 0)
    return result

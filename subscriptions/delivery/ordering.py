"""Ordered delivery's rule in the claim, in its two renderings (the portable ORM one of claims.py, PostgreSQL's SQL
of postgres.py), side by side so they cannot drift apart:

A delivery with a key (Delivery.order_key, set when it was recorded: core/ordering.py) is claimable only when no
other pending delivery of the same endpoint and key comes before it (order_at, then id) or is in flight (leased).
Pending includes one waiting for its retry and one a worker holds under a lease; a delivery that succeeded or was
given up (failed) holds nothing back. One claim never takes two of one key: the later one sees the earlier pending.

A delivery without a key (order_key NULL: its endpoint has no `ordering`, or its event no value at the pointer)
is claimable as before: the condition's first term decides it, and the subquery, which reads the partial index
delivery_order_pending (pending ordered rows only), never runs for it.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from subscriptions.models import Delivery, DeliveryStatus

# PostgreSQL: a condition on the claim's `subscriptions_delivery` row (the due CTE reads the table unaliased);
# %(now)s is the claim's own parameter.
CLAIMABLE_IN_KEY_ORDER_SQL = """(order_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM subscriptions_delivery AS ahead
        WHERE ahead.endpoint_id = subscriptions_delivery.endpoint_id AND ahead.order_key = subscriptions_delivery.order_key
          AND ahead.status = 'pending' AND ahead.order_key IS NOT NULL
          AND ((ahead.order_at, ahead.id) < (subscriptions_delivery.order_at, subscriptions_delivery.id)
               OR ahead.lease_until > %(now)s)))"""


def claimable_in_key_order(now) -> Q:
    """The same condition for the portable claim (SQLite), as a filter on the due deliveries."""
    ahead = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"), order_key=OuterRef("order_key"), status=DeliveryStatus.PENDING,
    ).filter(
        Q(order_at__lt=OuterRef("order_at")) | Q(order_at=OuterRef("order_at"), id__lt=OuterRef("id")) | Q(lease_until__gt=now)
    )
    return Q(order_key__isnull=True) | ~Exists(ahead)

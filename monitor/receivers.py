"""The hub's own pipeline events, as the live monitor shows them: receivers of the subscriptions signals.

They run synchronously in whichever thread committed, so each does a little dict building and a non-blocking
`broadcast.publish`, and swallows every error (the pipeline must never notice the monitor).
"""

import logging
import threading

from monitor import broadcast
from monitor.broadcast import make_message

logger = logging.getLogger(__name__)

_tenant_names: dict[int, str] = {}
_tenant_names_lock = threading.Lock()


def tenant_name(tenant_id, related=None):
    """A tenant's name from an already loaded relation, else a per-process cache (one small query per tenant)."""
    if related is not None:
        return related.name
    name = _tenant_names.get(tenant_id)
    if name is None:
        from tenants.models import Tenant

        name = Tenant.objects.filter(pk=tenant_id).values_list("name", flat=True).first()
        if name is not None:
            with _tenant_names_lock:
                _tenant_names[tenant_id] = name
    return name


def _loaded(instance, relation):
    """instance.<relation> when Django already holds it (no query), else None."""
    return instance._state.fields_cache.get(relation)


def _quietly(receiver):
    def wrapped(*args, **kwargs):
        if not broadcast.heard():
            return  # nobody can be watching: the message is not even built
        try:
            receiver(*args, **kwargs)
        except Exception:
            logger.exception("live monitor: %s failed", receiver.__name__)

    wrapped.__name__ = receiver.__name__
    return wrapped


@_quietly
def on_events_recorded(sender, tenant, events, deliveries=0, **kwargs):
    for event in events:
        broadcast.publish(
            tenant.name,
            make_message(
                "ingested",
                tenant.name,
                body=event.data,
                type=event.type,
                origin=event.origin,
                routingKey=event.routing_key or None,
                properties=event.properties or None,
                eventId=event.event_id,
                changed=getattr(event, "changed", None),  # update events whose type declares a change pair
            ),
        )


@_quietly
def on_deliveries_attempted(sender, attempts, **kwargs):
    for attempt in attempts:
        name = tenant_name(attempt.tenant_id)
        if name is None:
            continue
        broadcast.publish(
            name,
            make_message(
                "delivery",
                name,
                body={"url": attempt.url, "statusCode": attempt.status_code, "error": attempt.error or None, "durationMs": attempt.duration_ms},
                type=attempt.event_type,
                outcome=attempt.outcome,
                deliveryId=attempt.delivery_id,
                attempt=attempt.attempt,
            ),
        )


@_quietly
def on_endpoint_disabled(sender, endpoint, reason, **kwargs):
    name = tenant_name(endpoint.tenant_id, _loaded(endpoint, "tenant"))
    if name is None:
        return
    broadcast.publish(
        name,
        make_message("endpoint_disabled", name, body={"url": endpoint.url, "reason": reason}, outcome="disabled", endpointId=str(endpoint.pk)),
    )


@_quietly
def on_message_dead_lettered(sender, dead_letter, **kwargs):
    if dead_letter.tenant_id is None:
        return  # nobody's viewer: the message names no tenant
    name = tenant_name(dead_letter.tenant_id, _loaded(dead_letter, "tenant"))
    if name is None:
        return
    source = _loaded(dead_letter, "source")
    broadcast.publish(
        name,
        make_message(
            "dead_letter",
            name,
            body=dead_letter.body,
            source=source.name if source is not None else None,
            exchange=dead_letter.exchange or None,
            routingKey=dead_letter.routing_key or None,
            properties=dead_letter.properties or None,
            outcome="dead_lettered",
            reason=dead_letter.reason[:1000],
            deadLetterId=dead_letter.pk,
        ),
    )


def connect():
    from subscriptions import signals

    signals.events_recorded.connect(on_events_recorded, dispatch_uid="monitor.events_recorded")
    signals.deliveries_attempted.connect(on_deliveries_attempted, dispatch_uid="monitor.deliveries_attempted")
    signals.endpoint_disabled.connect(on_endpoint_disabled, dispatch_uid="monitor.endpoint_disabled")
    signals.message_dead_lettered.connect(on_message_dead_lettered, dispatch_uid="monitor.message_dead_lettered")

"""The subscriptions app's models, one module per concern; import them from here (subscriptions.models)."""

from subscriptions.models.catalog import SCHEMA_TYPES, EventType
from subscriptions.models.emporix import EmporixConfig, EmporixTarget
from subscriptions.models.endpoints import CircuitState, Endpoint, EndpointSecret, PayloadFormat
from subscriptions.models.events import Attempt, Delivery, DeliveryStatus, Event, EventOrigin
from subscriptions.models.portal import PortalLink, PortalRole, PortalSettings
from subscriptions.models.routing import EventSubscription, RoutingQuerySet, RoutingVersion, SubscriptionState
from subscriptions.models.sources import DeadLetter, Source

__all__ = [
    "SCHEMA_TYPES", "Attempt", "CircuitState", "DeadLetter", "Delivery", "DeliveryStatus", "EmporixConfig", "EmporixTarget", "Endpoint",
    "EndpointSecret", "Event", "EventOrigin", "EventSubscription", "EventType", "PayloadFormat", "PortalLink",
    "PortalRole", "PortalSettings", "RoutingQuerySet", "RoutingVersion", "Source", "SubscriptionState",
]

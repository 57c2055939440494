from django.urls import path

from subscriptions.api import (
    dead_letters, deliveries, emporix_config, emporix_statistics, endpoints, event_subscriptions, event_types, events,
    portal_links, sources,
)

urlpatterns = [
    path("webhook/<str:tenant>/event-subscriptions", event_subscriptions.EventSubscriptionsView.as_view(), name="event-subscriptions"),
    path("webhook/<str:tenant>/event-types", event_types.EventTypesView.as_view(), name="event-types"),
    path("webhook/<str:tenant>/event-types/<str:key>", event_types.EventTypeDetailView.as_view(), name="event-type-detail"),
]

urlpatterns += [
    path("webhook/<str:tenant>/endpoints", endpoints.EndpointsView.as_view(), name="endpoints"),
    path("webhook/<str:tenant>/endpoints/<str:endpoint_id>", endpoints.EndpointDetailView.as_view(), name="endpoint-detail"),
    path("webhook/<str:tenant>/endpoints/<str:endpoint_id>/rotate-secret", endpoints.RotateSecretView.as_view(), name="endpoint-rotate-secret"),
]

urlpatterns += [
    path("webhook/<str:tenant>/events", events.EventsView.as_view(), name="events"),
    path("webhook/<str:tenant>/deliveries", deliveries.DeliveriesView.as_view(), name="deliveries"),
    path("webhook/<str:tenant>/deliveries/<str:delivery_id>", deliveries.DeliveryDetailView.as_view(), name="delivery-detail"),
    path("webhook/<str:tenant>/deliveries/<str:delivery_id>/retry", deliveries.RetryDeliveryView.as_view(), name="delivery-retry"),
    path("webhook/<str:tenant>/endpoints/<str:endpoint_id>/replay", deliveries.ReplayEndpointView.as_view(), name="endpoint-replay"),
    path("webhook/<str:tenant>/endpoints/<str:endpoint_id>/recover", deliveries.RecoverEndpointView.as_view(), name="endpoint-recover"),
    path("webhook/<str:tenant>/endpoints/<str:endpoint_id>/preview", deliveries.PreviewView.as_view(), name="endpoint-preview"),
    path("webhook/<str:tenant>/endpoints/<str:endpoint_id>/test", deliveries.TestSendView.as_view(), name="endpoint-test"),
]

urlpatterns += [
    path("webhook/<str:tenant>/sources", sources.SourcesView.as_view(), name="sources"),
    path("webhook/<str:tenant>/sources/<str:source_id>", sources.SourceDetailView.as_view(), name="source-detail"),
    path("webhook/<str:tenant>/dead-letters", dead_letters.DeadLettersView.as_view(), name="dead-letters"),
    path("webhook/<str:tenant>/dead-letters/<str:dead_letter_id>/redrive", dead_letters.RedriveView.as_view(), name="dead-letter-redrive"),
]

urlpatterns += [  # Emporix's webhook service, beside event-subscriptions above
    path("webhook/<str:tenant>/config", emporix_config.ConfigsView.as_view(), name="emporix-configs"),
    path("webhook/<str:tenant>/config/<str:code>", emporix_config.ConfigView.as_view(), name="emporix-config"),
    path("webhook/<str:tenant>/statistics", emporix_statistics.StatisticsView.as_view(), name="emporix-statistics"),
]

urlpatterns += [  # consumer portal links
    path("webhook/<str:tenant>/portal-links", portal_links.PortalLinksView.as_view(), name="portal-links"),
    path("webhook/<str:tenant>/portal-links/<str:link_id>", portal_links.PortalLinkDetailView.as_view(), name="portal-link-detail"),
    path("webhook/<str:tenant>/portal-settings", portal_links.PortalSettingsView.as_view(), name="portal-settings"),
]

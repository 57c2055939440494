"""Top-level URLs: the dashboard, the API under /webhook/, OAuth2 token endpoint, OpenAPI schema and docs, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from oauth2_provider import views as oauth2_views

from eventhub import health
from eventhub.api import page_not_found, server_error
from eventhub.docs import RedocDocsView, SwaggerDocsView
from tenants.views import RateLimitedTokenView


urlpatterns = [
    path("", include("subscriptions.api.urls")),
    path("", include("monitor.urls")),
    path("oauth/token", RateLimitedTokenView.as_view(), name="oauth-token"),
    path("oauth/revoke", oauth2_views.RevokeTokenView.as_view(), name="oauth-revoke"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedocDocsView.as_view(url_name="api-schema"), name="api-redoc"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("portal.urls")),  # /portal/<token>/...: consumer portal links, no account
    # The dashboard: /, /login/, /logout/ and /t/<tenant>/...
    path("", include("dashboard.urls")),
]

handler404 = page_not_found
handler500 = server_error

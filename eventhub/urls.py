"""Top-level URLs: the dashboard, the API under /webhook/, OAuth2 token endpoint, OpenAPI schema and docs, health."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from oauth2_provider import views as oauth2_views


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", include("subscriptions.api.urls")),
    path("oauth/token", oauth2_views.TokenView.as_view(), name="oauth-token"),
    path("oauth/revoke", oauth2_views.RevokeTokenView.as_view(), name="oauth-revoke"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # The dashboard: /, /login/, /logout/ and /t/<tenant>/...
    path("", include("dashboard.urls")),
]

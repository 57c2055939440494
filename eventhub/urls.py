"""Top-level URLs: the API under /webhook/, OAuth2 token endpoint, OpenAPI schema and docs, health."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from oauth2_provider import views as oauth2_views


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    # Until the dashboard lands, the front door is the API documentation.
    path("", RedirectView.as_view(url="/api/docs/", permanent=False), name="home"),
    path("", include("subscriptions.api.urls")),
    path("", include("monitor.urls")),
    path("oauth/token", oauth2_views.TokenView.as_view(), name="oauth-token"),
    path("oauth/revoke", oauth2_views.RevokeTokenView.as_view(), name="oauth-revoke"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

"""Dashboard access: /webhook/{tenant}/dashboard-access, Emporix's magic login link into the tenant's consumer portal
(DashboardAccess {url, token}), answered with a consumer portal link of eventhub (subscriptions/portal/links.py)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.models import PortalRole
from subscriptions.portal import links

DashboardAccess = inline_serializer("DashboardAccess", {
    "url": serializers.URLField(help_text="The tenant's consumer portal, the token in its path; valid for 24 h."),
    "token": serializers.CharField(help_text="The link's token (ehp_...), which the URL carries."),
})


class DashboardAccessView(TenantAPIView):
    required_scopes = {"GET": "webhook.subscription_manage"}  # the scope Emporix's spec names

    @extend_schema(
        operation_id="GET-webhook-access-tenant-svix",
        summary="A link into the tenant's consumer portal (Emporix's dashboard access)",
        description="Each call makes a new editor link to every endpoint of the tenant, valid for 24 h, listed and "
                    "revocable under /webhook/{tenant}/portal-links like any other.",
        responses={200: DashboardAccess, **ERRORS},
    )
    def get(self, request, tenant):
        link, path = links.create_portal_link(
            self.tenant, endpoints=None, role=PortalRole.EDITOR, expires_in=links.DEFAULT_EXPIRES_IN,
            created_by=f"dashboard-access, API client {request.user.client_id}",
        )
        token = path.removeprefix("/portal/").rstrip("/")
        return Response({"url": request.build_absolute_uri(path), "token": token})

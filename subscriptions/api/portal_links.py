"""Consumer portal links: /webhook/{tenant}/portal-links[/{id}] (make, list, revoke), and the sites that may frame the
portal: /webhook/{tenant}/portal-settings. The rules are subscriptions/portal's; these views read, call, render."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from eventhub.api import problems_by_field
from subscriptions.api.base import ERRORS, NOT_FOUND, TenantAPIView
from subscriptions.api.endpoints import MANAGE_SCOPE
from subscriptions.api.outputs import IsoMsField
from subscriptions.api.pagination import Pagination
from subscriptions.models import PortalRole
from subscriptions.portal import framing, links

READ_SCOPE = "webhook.endpoint_read"


class PortalLinkSerializer(serializers.Serializer):
    """A link as listed: never its URL, which is given once, when it is made (the hub keeps only a digest)."""

    id = serializers.CharField()
    role = serializers.ChoiceField(choices=PortalRole.values)
    endpoints = serializers.SerializerMethodField(help_text="The endpoints it shows; null: every endpoint of the tenant.")
    state = serializers.SerializerMethodField()
    createdAt = IsoMsField(source="created_at")
    expiresAt = IsoMsField(source="expires_at")
    revokedAt = IsoMsField(source="revoked_at", allow_null=True)
    createdBy = serializers.CharField(source="created_by")

    def get_endpoints(self, link) -> list[str] | None:
        return None if link.all_endpoints else sorted(str(e.pk) for e in link.endpoints.all())

    def get_state(self, link) -> str:
        return link.state(self.context["now"])


LinkInput = inline_serializer("PortalLinkRequest", {
    "endpoints": serializers.ListField(child=serializers.UUIDField(), allow_null=True, max_length=links.MAX_ENDPOINTS,
                                       help_text="Endpoint ids of this tenant; null: all its endpoints, also those made later."),
    "role": serializers.ChoiceField(choices=PortalRole.values, required=False, help_text="viewer (default) or editor."),
    "expiresIn": serializers.IntegerField(min_value=links.MIN_EXPIRES_IN, max_value=links.MAX_EXPIRES_IN, required=False,
                                          help_text=f"Seconds, at most 7 days (default {links.DEFAULT_EXPIRES_IN})."),
})
LinkCreated = inline_serializer("PortalLinkCreated", {
    "id": serializers.CharField(), "url": serializers.URLField(help_text="Given only this once."),
    "expiresAt": serializers.CharField(), "role": serializers.CharField(),
    "endpoints": serializers.ListField(child=serializers.CharField(), allow_null=True),
})
SettingsBody = inline_serializer("PortalSettings", {
    "frameOrigins": serializers.ListField(child=serializers.CharField(), max_length=framing.MAX_FRAME_ORIGINS, help_text=(
        "Origins (https://shop.example.com) whose pages may show the portal in an iframe; empty: none may.")),
})


def object_body(request, allowed):
    """The body as an object of known properties, or a 400 naming the others."""
    data = request.data
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.")
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise ValidationError({name: ["Unknown property."] for name in extra[:20]})
    return data


def refused(exc: links.PortalInvalid):
    return ValidationError(problems_by_field(exc.details))


class PortalLinksView(TenantAPIView):
    required_scopes = {"GET": READ_SCOPE, "POST": MANAGE_SCOPE}

    @extend_schema(summary="The tenant's portal links, newest first (their URLs are not kept)",
                   parameters=Pagination.parameters(), responses={200: PortalLinkSerializer(many=True), **ERRORS})
    def get(self, request, tenant):
        return self.paged_response(links.portal_links(self.tenant), PortalLinkSerializer, now=timezone.now())

    @extend_schema(
        summary="Make a consumer portal link: a page, without an account, showing these endpoints' health and deliveries",
        description="An editor link also retries, sends test events and rotates secrets. The URL is given only in this "
                    "answer; revoke the link with DELETE.",
        request=LinkInput, responses={201: LinkCreated, **ERRORS},
    )
    def post(self, request, tenant):
        data = object_body(request, ("endpoints", "role", "expiresIn"))
        if "endpoints" not in data:
            raise ValidationError({"endpoints": ["Required: a list of endpoint ids, or null for every endpoint."]})
        try:
            link, path = links.create_portal_link(
                self.tenant, endpoints=data["endpoints"], role=data.get("role", PortalRole.VIEWER),
                expires_in=data.get("expiresIn", links.DEFAULT_EXPIRES_IN), created_by=f"API client {request.user.client_id}",
            )
        except links.PortalInvalid as exc:
            raise refused(exc)
        body = PortalLinkSerializer(link, context={"now": link.created_at}).data
        answer = {"id": body["id"], "url": request.build_absolute_uri(path), "expiresAt": body["expiresAt"],
                  "role": body["role"], "endpoints": body["endpoints"]}
        return Response(answer, status=status.HTTP_201_CREATED)


class PortalLinkDetailView(TenantAPIView):
    required_scopes = {"GET": READ_SCOPE, "DELETE": MANAGE_SCOPE}

    @extend_schema(summary="One portal link (never its URL)", responses={200: PortalLinkSerializer, **NOT_FOUND, **ERRORS})
    def get(self, request, tenant, link_id):
        link = links.find_portal_link(self.tenant, link_id)
        if link is None:
            raise NotFound(f"Portal link '{link_id}' does not exist.")
        return Response(PortalLinkSerializer(link, context={"now": timezone.now()}).data)

    @extend_schema(summary="Revoke a portal link: from the next request on, it opens nothing", responses={204: None, **NOT_FOUND, **ERRORS})
    def delete(self, request, tenant, link_id):
        if links.revoke_portal_link(self.tenant, link_id) is None:
            raise NotFound(f"Portal link '{link_id}' does not exist.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PortalSettingsView(TenantAPIView):
    required_scopes = {"GET": READ_SCOPE, "PUT": MANAGE_SCOPE}

    @extend_schema(summary="The origins that may show this tenant's portal in an iframe", responses={200: SettingsBody, **ERRORS})
    def get(self, request, tenant):
        return Response({"frameOrigins": framing.frame_origins(self.tenant.pk)})

    @extend_schema(summary="Replace the origins that may show this tenant's portal in an iframe",
                   request=SettingsBody, responses={200: SettingsBody, **ERRORS})
    def put(self, request, tenant):
        data = object_body(request, ("frameOrigins",))
        try:
            origins = framing.set_frame_origins(self.tenant, data.get("frameOrigins"))
        except links.PortalInvalid as exc:
            raise refused(exc)
        return Response({"frameOrigins": origins})

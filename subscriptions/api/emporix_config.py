"""Emporix webhook configurations: /webhook/{tenant}/config and /config/{code}, as Emporix's webhook service serves
them for its HTTP provider (subscriptions/emporix/: the mapping onto eventhub endpoints)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from eventhub.api import error_response
from eventhub.conf import hub_setting
from subscriptions.api.base import ERRORS, TenantAPIView
from subscriptions.api.serializers import ErrorSerializer
from subscriptions.emporix import selectors as emporix_selectors
from subscriptions.emporix import services as emporix_services
from subscriptions.emporix.config import ConfigProblems, read_config
from subscriptions.emporix.patch import PatchConflict, PatchProblem, apply_operations, keep_legacy_ids
from subscriptions.models import EmporixConfig

READ, MANAGE = "webhook.subscription_read", "webhook.subscription_manage"
CONFLICT = {409: ErrorSerializer}
NOT_FOUND = {404: ErrorSerializer}
CONFIG = OpenApiTypes.OBJECT  # Emporix's WebhookConfigCreation / ConfigurationGet: docs/reference/emporix-webhook-service.yml
# Operation ids are Emporix's own, so clients generated from either document name the calls alike.
SHAPES = "The shapes are Emporix's (docs/reference/emporix-webhook-service.yml); README \"Coming from Emporix\"."


class ConfigMixin:
    def stored(self, code) -> EmporixConfig:
        row = emporix_selectors.configs(self.tenant).filter(code=code).first()
        if row is None:
            raise NotFound(f"The tenant has no webhook configuration '{code}'.")
        return row

    def read(self, body, code=None, known_ids=None):
        try:
            return read_config(body, code=code, known_types=emporix_services.known_event_types(self.tenant),
                               known_ids=known_ids, allow_private=hub_setting("ALLOW_PRIVATE_TARGETS"))
        except ConfigProblems as exc:
            raise ValidationError(exc.problems) from None

    def body(self, row):
        return emporix_selectors.config_body(row, header_values=MANAGE in self.request.user.scopes)

    def replace(self, config):
        try:
            emporix_services.replace_config(self.tenant, config)
        except (emporix_services.ConfigConflict, emporix_services.ConfigExists) as exc:
            return error_response(409, str(exc))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConfigsView(ConfigMixin, TenantAPIView):
    required_scopes = {"GET": READ, "POST": MANAGE}

    @extend_schema(operation_id="GET-webhook-list-configs", summary="The tenant's webhook configurations",
                   description=SHAPES, responses={200: CONFIG, **ERRORS})
    def get(self, request, tenant):
        return Response([self.body(row) for row in emporix_selectors.configs(self.tenant)])

    @extend_schema(operation_id="POST-webhook-create-config",
                   summary="Create the HTTP webhook configuration; its entries become endpoints", description=SHAPES,
                   request=CONFIG, responses={201: inline_serializer("CreatedConfig", {"code": serializers.CharField()}),
                                              **CONFLICT, **ERRORS})
    def post(self, request, tenant):
        config = self.read(request.data)
        try:
            emporix_services.create_config(self.tenant, config)
        except emporix_services.ConfigExists as exc:
            return error_response(409, str(exc))
        return Response({"code": config.code}, status=status.HTTP_201_CREATED)


class ConfigView(ConfigMixin, TenantAPIView):
    required_scopes = {"GET": READ, "PUT": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}

    @extend_schema(operation_id="GET-webhook-retrieve-config", summary="One webhook configuration", description=SHAPES,
                   responses={200: CONFIG, **NOT_FOUND, **ERRORS})
    def get(self, request, tenant, code):
        return Response(self.body(self.stored(code)))

    @extend_schema(operation_id="PUT-webhook-update-config", summary="Replace (or create) a webhook configuration",
                   description=SHAPES, request=CONFIG, responses={204: None, **CONFLICT, **ERRORS})
    def put(self, request, tenant, code):
        row = emporix_selectors.configs(self.tenant).filter(code=code).first()
        stored = emporix_selectors.config_document(row)["configuration"]["eventsConfiguration"] if row else []
        body = request.data
        configuration = body.get("configuration") if isinstance(body, dict) else None
        if isinstance(configuration, dict) and "eventsConfiguration" in configuration:
            entries = keep_legacy_ids(stored, configuration["eventsConfiguration"])
            body = {**body, "configuration": {**configuration, "eventsConfiguration": entries}}
        return self.replace(self.read(body, code=code, known_ids={entry["id"] for entry in stored}))

    @extend_schema(operation_id="PATCH-webhook-update-config",
                   summary="Change a webhook configuration with UPSERT/REMOVE operations", description=SHAPES,
                   request=OpenApiTypes.OBJECT, responses={204: None, **NOT_FOUND, **CONFLICT, **ERRORS})
    def patch(self, request, tenant, code):
        row = self.stored(code)
        document = emporix_selectors.config_document(row)
        try:
            changed, minted = apply_operations(document, request.data)
        except PatchConflict as exc:
            return error_response(409, str(exc), [{"field": exc.place, "message": str(exc)}])
        except PatchProblem as exc:
            raise ValidationError({exc.place: [str(exc)]}) from None
        known = {entry["id"] for entry in document["configuration"]["eventsConfiguration"]} | minted
        return self.replace(self.read(changed, code=code, known_ids=known))

    @extend_schema(operation_id="DELETE-webhook-remove-config",
                   summary="Remove a webhook configuration and its endpoints (an active one with ?force=true)",
                   parameters=[OpenApiParameter("force", OpenApiTypes.BOOL, default=False)],
                   responses={204: None, **CONFLICT, **ERRORS})
    def delete(self, request, tenant, code):
        force = request.query_params.get("force", "false").lower() == "true"
        try:
            emporix_services.delete_config(self.tenant, code, force)
        except emporix_services.ConfigActive as exc:
            return error_response(409, str(exc))
        return Response(status=status.HTTP_204_NO_CONTENT)

"""Tenants: who owns what, who may act for them (dashboard users with roles, OAuth2 clients with scopes)."""

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and access"

    def ready(self):
        from tenants import schema  # noqa: F401  (registers the OpenAPI description of bearer authentication)

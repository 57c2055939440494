from django.contrib import admin

from tenants.models import ApiClient, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "default_language", "languages", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["application", "tenant", "allowed_scopes", "created_at"]
    list_filter = ["tenant"]

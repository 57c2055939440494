from django.contrib import admin

from subscriptions.models import EventSubscription, EventType


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ["key", "source", "kind", "tenant", "position"]
    list_filter = ["source", "kind"]
    search_fields = ["key"]


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["tenant", "event_type", "state", "version", "modified_at"]
    list_filter = ["state", "tenant"]
    raw_id_fields = ["event_type"]

from django.urls import path

from subscriptions.api import views

urlpatterns = [
    path("webhook/<str:tenant>/event-subscriptions", views.EventSubscriptionsView.as_view(), name="event-subscriptions"),
    path("webhook/<str:tenant>/event-types", views.EventTypesView.as_view(), name="event-types"),
    path("webhook/<str:tenant>/event-types/<str:key>", views.EventTypeDetailView.as_view(), name="event-type-detail"),
]

"""Pages of the live monitor."""

from django.urls import path

from monitor import views

app_name = "monitor"

urlpatterns = [
    path("t/<str:tenant>/live/", views.live, name="live"),
]

"""The portal's URLs, all under /portal/<token>/: nothing else of the hub is reachable through a link."""

from django.urls import include, path

from portal import views

app_name = "portal"

link_patterns = [
    path("", views.home, name="home"),
    path("endpoints/<uuid:endpoint_id>/", views.endpoint_page, name="endpoint"),
    path("endpoints/<uuid:endpoint_id>/test/", views.endpoint_test, name="endpoint-test"),
    path("endpoints/<uuid:endpoint_id>/rotate-secret/", views.endpoint_rotate, name="endpoint-rotate"),
    path("deliveries/<int:delivery_id>/", views.delivery_page, name="delivery"),
    path("deliveries/<int:delivery_id>/retry/", views.delivery_retry, name="delivery-retry"),
]

urlpatterns = [path("portal/<str:token>/", include(link_patterns))]

"""Dashboard URLs: /login/, /logout/, / and everything under /t/<tenant>/."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import demo, delivery_views, endpoint_views, event_views, invitations, portal_views, source_views, views

app_name = "dashboard"

tenant_patterns = [
    path("", views.overview, name="overview"),
    path("catalog/", views.catalog, name="catalog"),
    path("catalog/<str:key>/", views.catalog_type, name="catalog-type"),
    path("endpoints/", endpoint_views.endpoint_list, name="endpoints"),
    path("endpoints/new/", endpoint_views.endpoint_new, name="endpoint-new"),
    path("endpoints/preview/", endpoint_views.endpoint_preview_json, name="endpoint-preview"),
    path("endpoints/check/", endpoint_views.endpoint_check_json, name="endpoint-check"),
    path("endpoints/<uuid:endpoint_id>/", endpoint_views.endpoint_detail, name="endpoint"),
    path("endpoints/<uuid:endpoint_id>/edit/", endpoint_views.endpoint_edit, name="endpoint-edit"),
    path("endpoints/<uuid:endpoint_id>/rotate-secret/", endpoint_views.endpoint_rotate, name="endpoint-rotate"),
    path("endpoints/<uuid:endpoint_id>/test/", endpoint_views.endpoint_test, name="endpoint-test"),
    path("endpoints/<uuid:endpoint_id>/toggle/", endpoint_views.endpoint_toggle, name="endpoint-toggle"),
    path("endpoints/<uuid:endpoint_id>/delete/", endpoint_views.endpoint_delete, name="endpoint-delete"),
    path("endpoints/<uuid:endpoint_id>/replay/", endpoint_views.endpoint_replay, name="endpoint-replay"),
    path("endpoints/<uuid:endpoint_id>/recover/", endpoint_views.endpoint_recover, name="endpoint-recover"),
    path("events/", event_views.event_list, name="events"),
    path("deliveries/", delivery_views.delivery_list, name="deliveries"),
    path("deliveries/<int:delivery_id>/", delivery_views.delivery_detail, name="delivery"),
    path("deliveries/<int:delivery_id>/retry/", delivery_views.delivery_retry, name="delivery-retry"),
    path("sources/", source_views.source_list, name="sources"),
    path("sources/new/", source_views.source_new, name="source-new"),
    path("sources/<uuid:source_id>/edit/", source_views.source_edit, name="source-edit"),
    path("sources/<uuid:source_id>/delete/", source_views.source_delete, name="source-delete"),
    path("dead-letters/", source_views.dead_letter_list, name="dead-letters"),
    path("dead-letters/<int:dead_letter_id>/", source_views.dead_letter_detail, name="dead-letter"),
    path("dead-letters/<int:dead_letter_id>/redrive/", source_views.dead_letter_redrive, name="dead-letter-redrive"),
    path("portal-links/", portal_views.portal_links, name="portal-links"),
    path("portal-links/frame-origins/", portal_views.portal_frame_origins, name="portal-frame-origins"),
    path("portal-links/<uuid:link_id>/revoke/", portal_views.portal_link_revoke, name="portal-link-revoke"),
    path("members/", views.members, name="members"),
    path("members/<int:member_id>/", views.member_change, name="member-change"),
]

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="dashboard/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="dashboard:login"), name="logout"),
    path("demo/echo/", demo.echo, name="demo-echo"),  # 404 unless `serve --demo`
    path("invitation/<uidb64>/<token>/", invitations.AcceptInvitationView.as_view(), name="accept-invitation"),
    path("", views.home, name="home"),
    path("t/<str:tenant>/", include(tenant_patterns)),
]

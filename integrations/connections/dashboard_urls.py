"""/dashboard/connections/…: the merchant's connection pages (connect, settings, sync) and deals."""
from django.urls import path

from . import views

app_name = "connections"
urlpatterns = [
    path("", views.connection_index, name="index"),
    path("deals", views.deal_index, name="deals"),
    path("connect/<slug:vendor>", views.connection_connect, name="connect"),
    path("<uuid:connection_id>", views.connection_detail, name="detail"),
    path("<uuid:connection_id>/sync", views.connection_sync, name="sync"),
    path("<uuid:connection_id>/disconnect", views.connection_disconnect_view, name="disconnect"),
    path("<uuid:connection_id>/progress", views.connection_progress, name="progress"),
]

"""/dashboard/pos/…: POS-specific connection pages."""
from django.urls import path

from . import views

app_name = "pos"
urlpatterns = [
    path("<uuid:connection_id>/locations", views.connection_locations, name="locations"),
]

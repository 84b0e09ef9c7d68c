"""/api/v1/: each app contributes its `apis` routes here."""
from django.urls import include, path

urlpatterns = [
    path("", include("taxpoynt.tenancy.urls")),
    path("", include("integrations.connections.urls")),
    path("", include("invoicing.urls")),
]

"""/api/v1/: each app contributes its `apis` routes here."""
from django.urls import include, path

urlpatterns = [
    path("", include("taxpoynt.tenancy.urls")),
    path("", include("integrations.connections.urls")),
    path("", include("invoicing.urls")),
    path("crm/", include("integrations.crm.urls")),
    path("pos/", include("integrations.pos.urls")),
]

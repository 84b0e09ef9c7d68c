"""/api/v1/: each app contributes its `apis` routes here. The last, unnamed
route answers unknown /api/v1/ paths with the JSON 404."""
from django.urls import include, path, re_path

from .views import api_not_found

urlpatterns = [
    path("", include("taxpoynt.tenancy.urls")),
    path("", include("integrations.connections.urls")),
    path("", include("invoicing.urls")),
    path("crm/", include("integrations.crm.urls")),
    path("pos/", include("integrations.pos.urls")),
    re_path(r"^[\s\S]*$", api_not_found),  # keep last
]

"""/api/ (outside /api/v1/): the docs pages, and the JSON 404 for any other
unknown /api/ path. Included after /api/v1/ and /api/schema/."""
from django.urls import path, re_path

from .views import ApiDocsView, ApiRedocView, api_not_found

urlpatterns = [
    path("docs/", ApiDocsView.as_view(), name="api-docs"),
    path("redoc/", ApiRedocView.as_view(), name="api-redoc"),
    re_path(r"^[\s\S]*$", api_not_found),  # keep last
]

from django.urls import path

from . import apis

urlpatterns = [
    path("organizations", apis.OrganizationListApi.as_view(), name="api-organization-list"),
    path("organizations/<uuid:organization_id>", apis.OrganizationDetailApi.as_view(),
         name="api-organization-detail"),
]

from django.urls import path

from . import apis

urlpatterns = [
    path("connections", apis.ConnectionListApi.as_view(), name="api-connection-list"),
    path("connections/<uuid:connection_id>", apis.ConnectionDetailApi.as_view(), name="api-connection-detail"),
    path("connections/<uuid:connection_id>/sync", apis.ConnectionSyncApi.as_view(), name="api-connection-sync"),
]

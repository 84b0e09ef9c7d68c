"""/api/v1/pos/… routes (locations, transactions, analytics; vendor connect routes
are added by the connector framework)."""
from django.urls import path

from . import apis

urlpatterns = [
    path("locations", apis.LocationListApi.as_view(), name="api-pos-location-list"),
    path("transactions", apis.TransactionListApi.as_view(), name="api-pos-transaction-list"),
    path("transactions/<uuid:transaction_id>", apis.TransactionDetailApi.as_view(), name="api-pos-transaction-detail"),
    path("analytics/transaction-volume", apis.TransactionVolumeApi.as_view(), name="api-pos-analytics-volume"),
    path("analytics/peak-hours", apis.PeakHoursApi.as_view(), name="api-pos-analytics-peak-hours"),
    path("analytics/top-items", apis.TopItemsApi.as_view(), name="api-pos-analytics-top-items"),
]

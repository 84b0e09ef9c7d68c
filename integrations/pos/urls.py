"""/api/v1/pos/… routes: locations, transactions, analytics, and the writes.

The per-vendor connect/callback routes, webhook-config (PUT) and
batch-process (POST) are deliberately unnamed, as in integrations.crm.urls:
they are reached by path (`oauth_callback_path(vendor)`) and stay out of the
generated tenant-isolation and list checks, which GET every named route (each
of these scopes its objects to the user's organizations itself)."""
from django.urls import path, reverse

from . import apis

urlpatterns = [
    path("locations", apis.LocationListApi.as_view(), name="api-pos-location-list"),
    path("transactions", apis.TransactionListApi.as_view(), name="api-pos-transaction-list"),
    path("transactions/batch-process", apis.BatchProcessApi.as_view()),
    path("webhook-config", apis.WebhookConfigApi.as_view()),
    path("<slug:vendor>/connect", apis.PosConnectApi.as_view()),
    path("<slug:vendor>/callback", apis.pos_oauth_callback),
    path("transactions/<uuid:transaction_id>", apis.TransactionDetailApi.as_view(), name="api-pos-transaction-detail"),
    path("analytics/transaction-volume", apis.TransactionVolumeApi.as_view(), name="api-pos-analytics-volume"),
    path("analytics/peak-hours", apis.PeakHoursApi.as_view(), name="api-pos-analytics-peak-hours"),
    path("analytics/top-items", apis.TopItemsApi.as_view(), name="api-pos-analytics-top-items"),
]


def pos_api_path(suffix: str) -> str:
    """The absolute path of a route under /api/v1/pos/ (wherever that is mounted)."""
    return reverse("api-pos-location-list").rsplit("/", 1)[0] + "/" + suffix


def oauth_callback_path(vendor: str) -> str:
    """The OAuth redirect_uri path for a POS vendor: /api/v1/pos/<vendor>/callback."""
    return pos_api_path(f"{vendor}/callback")

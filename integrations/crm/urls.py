"""/api/v1/crm/… routes (CRM connect/callback, deals, customers)."""
from django.urls import path

from . import apis

urlpatterns = [
    path("deals", apis.DealListApi.as_view(), name="api-crm-deal-list"),
    path("deals/<uuid:deal_id>/generate-invoice", apis.DealGenerateInvoiceApi.as_view(),
         name="api-crm-deal-generate-invoice"),
    path("customers", apis.CustomerListApi.as_view(), name="api-crm-customer-list"),
    path("<slug:vendor>/connect", apis.CrmConnectApi.as_view(), name="api-crm-connect"),
    path("<slug:vendor>/callback", apis.crm_oauth_callback, name="api-crm-oauth-callback"),
]

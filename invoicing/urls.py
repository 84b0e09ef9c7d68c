from django.urls import path

from . import apis

urlpatterns = [
    path("invoices", apis.InvoiceListApi.as_view(), name="api-invoice-list"),
    path("invoices/<uuid:invoice_id>", apis.InvoiceDetailApi.as_view(), name="api-invoice-detail"),
]

from django.urls import path

from . import apis

urlpatterns = [
    path("invoices", apis.InvoiceListApi.as_view(), name="api-invoice-list"),
    path("invoices/<uuid:invoice_id>", apis.InvoiceDetailApi.as_view(), name="api-invoice-detail"),
    path("invoices/<uuid:invoice_id>.xml", apis.InvoiceXmlApi.as_view(), name="api-invoice-xml"),
    path("invoices/<uuid:invoice_id>.json", apis.InvoiceJsonApi.as_view(), name="api-invoice-json"),
    path("invoices/<uuid:invoice_id>.pdf", apis.InvoicePdfApi.as_view(), name="api-invoice-pdf"),
    path("invoices/<uuid:invoice_id>/qr.png", apis.InvoiceQrApi.as_view(), name="api-invoice-qr"),
    path("invoices/<uuid:invoice_id>/submissions", apis.InvoiceSubmissionsApi.as_view(),
         name="api-invoice-submissions"),
    path("invoices/<uuid:invoice_id>/retry", apis.InvoiceRetryApi.as_view(), name="api-invoice-retry"),
    path("invoices/<uuid:invoice_id>/credit-note", apis.InvoiceCreditNoteApi.as_view(),
         name="api-invoice-credit-note"),
]

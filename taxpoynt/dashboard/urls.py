from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("organization/switch", views.switch_organization, name="switch-organization"),
    path("transactions", views.transactions, name="transactions"),
    path("transactions/live", views.transactions_live, name="transactions-live"),
    path("invoices", views.invoices, name="invoices"),
    path("invoices/<uuid:invoice_id>", views.invoice_detail, name="invoice-detail"),
    path("invoices/<uuid:invoice_id>/retry", views.invoice_retry, name="invoice-retry"),
    path("invoices/<uuid:invoice_id>/credit-note", views.invoice_credit_note, name="invoice-credit-note"),
    path("analytics", views.analytics, name="analytics"),
]

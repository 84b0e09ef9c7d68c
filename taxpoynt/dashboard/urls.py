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
    path("analytics", views.analytics, name="analytics"),
]

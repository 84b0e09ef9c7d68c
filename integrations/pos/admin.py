from django.contrib import admin
from django.utils.text import Truncator

from integrations.connections.admin import SourceRecordAdmin

from .models import NOT_INVOICED, Location, Transaction


@admin.register(Location)
class LocationAdmin(SourceRecordAdmin):
    list_display = ("name", "external_id", "organization", "connection", "active")
    list_filter = ("active", "connection__vendor")


class NotInvoicedFilter(admin.SimpleListFilter):
    title = "not invoiced"
    parameter_name = "not_invoiced"

    def lookups(self, request, model_admin):
        return [("yes", "With a reason")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(NOT_INVOICED)
        return queryset


@admin.register(Transaction)
class TransactionAdmin(SourceRecordAdmin):
    list_display = ("external_id", "organization", "location", "status", "total_amount", "currency",
                    "occurred_at", "invoice", "not_invoiced_because")
    list_filter = ("status", "connection__vendor", NotInvoicedFilter)
    date_hierarchy = "occurred_at"

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "invoice_error")

    @admin.display(description="Not invoiced because")
    def not_invoiced_because(self, obj):
        return "" if obj.invoice_id else Truncator(obj.invoice_error).chars(120)

from django.contrib import admin

from integrations.connections.admin import SourceRecordAdmin

from .models import SourceInvoice


@admin.register(SourceInvoice)
class SourceInvoiceAdmin(SourceRecordAdmin):
    list_display = ("number", "external_id", "organization", "status", "total_amount", "currency", "invoice")
    list_filter = ("status", "connection__vendor")
    search_fields = SourceRecordAdmin.search_fields + ("number",)

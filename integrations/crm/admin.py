from django.contrib import admin

from integrations.connections.admin import SourceRecordAdmin

from .models import Customer, Deal


@admin.register(Deal)
class DealAdmin(SourceRecordAdmin):
    list_display = ("name", "external_id", "organization", "connection", "stage", "status", "amount", "currency",
                    "invoice", "source_updated_at")
    list_filter = ("status", "connection__vendor")
    search_fields = SourceRecordAdmin.search_fields + ("name",)


@admin.register(Customer)
class CustomerAdmin(SourceRecordAdmin):
    list_display = ("name", "external_id", "tin", "organization", "connection")
    list_filter = ("connection__vendor",)
    search_fields = SourceRecordAdmin.search_fields + ("name", "tin")

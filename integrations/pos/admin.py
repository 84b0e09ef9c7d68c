from django.contrib import admin

from integrations.connections.admin import SourceRecordAdmin

from .models import Location, Transaction


@admin.register(Location)
class LocationAdmin(SourceRecordAdmin):
    list_display = ("name", "external_id", "organization", "connection", "active")
    list_filter = ("active", "connection__vendor")


@admin.register(Transaction)
class TransactionAdmin(SourceRecordAdmin):
    list_display = ("external_id", "organization", "location", "status", "total_amount", "currency",
                    "occurred_at", "invoice")
    list_filter = ("status", "connection__vendor")
    date_hierarchy = "occurred_at"

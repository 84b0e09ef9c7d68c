import json

from django.contrib import admin
from django.utils.html import format_html

from taxpoynt.audit.admin import AuditedModelAdmin

from .models import Connection, WebhookEvent


class SourceRecordAdmin(AuditedModelAdmin):
    """Shared admin for every SourceRecord (deal, sale, ERP invoice): raw payload
    read-only, searchable by external id and org."""

    raw_fields = ("raw",)
    search_fields = ("=id", "external_id", "organization__name", "=organization__id", "invoice__irn")
    list_select_related = ("organization", "connection")

    def get_readonly_fields(self, request, obj=None):
        return ("id", "organization", "connection", "external_id", "raw_pretty", "source_updated_at",
                "invoice", "created_at", "updated_at")

    def get_exclude(self, request, obj=None):
        return ("raw",)

    @admin.display(description="Raw payload")
    def raw_pretty(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(obj.raw, indent=2, default=str))


@admin.register(Connection)
class ConnectionAdmin(AuditedModelAdmin):
    list_display = ("__str__", "organization", "vendor", "kind", "status", "last_synced_at", "created_at")
    list_filter = ("vendor", "kind", "status")
    search_fields = ("=id", "external_account_id", "display_name", "organization__name", "=organization__id")
    readonly_fields = ("id", "created_at", "updated_at", "sync_checkpoint", "last_error", "token_expires_at")
    exclude = ("credentials",)
    list_select_related = ("organization",)


@admin.register(WebhookEvent)
class WebhookEventAdmin(AuditedModelAdmin):
    list_display = ("event_id", "vendor", "event_type", "organization", "status", "attempts", "received_at")
    list_filter = ("vendor", "status", "event_type")
    search_fields = ("=id", "event_id", "organization__name", "=organization__id")
    date_hierarchy = "received_at"
    exclude = ("raw_body",)
    readonly_fields = ("id", "vendor", "event_id", "event_type", "organization", "connection", "body_text",
                       "headers", "received_at", "status", "attempts", "error", "processed_at")
    list_select_related = ("organization",)

    @admin.display(description="Raw body")
    def body_text(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>",
                           bytes(obj.raw_body).decode("utf-8", "replace"))

    def has_add_permission(self, request):
        return False

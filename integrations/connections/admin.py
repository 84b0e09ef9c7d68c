"""Support console for connections: connections (re-sync, revoke), webhook
events (replay), rejected deliveries and vendor exchanges (read-only). Every
action is audited through AuditedModelAdmin.audit_action."""
import json
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from taxpoynt.audit.admin import AuditedModelAdmin
from taxpoynt.audit.services import snapshot
from taxpoynt.errors import ApplicationError

from .models import Connection, RejectedWebhook, VendorExchange, WebhookEvent
from .selectors import webhook_events_mentioning


class SourceRecordAdmin(AuditedModelAdmin):
    """Shared admin for every SourceRecord (deal, sale, location, ERP invoice):
    read-only, searchable by external id and org, linked to its webhook events."""

    raw_fields = ("raw",)
    search_fields = ("=id", "external_id", "organization__name", "=organization__id", "invoice__irn")
    list_select_related = ("organization", "connection")

    def get_readonly_fields(self, request, obj=None):
        # A mirror of the vendor's object (the next sync or webhook writes it
        # again) and the source of an invoice: support never edits one by hand;
        # TaxPoynt's own settings on it (a location's `active`) go through services.
        stored = [f.name for f in self.model._meta.concrete_fields if f.name != "raw"]
        return stored + ["webhook_events", "raw_pretty"]

    def has_add_permission(self, request):
        return False  # rows come from syncs and webhooks

    def get_exclude(self, request, obj=None):
        return ("raw",)

    @admin.display(description="Webhook events")
    def webhook_events(self, obj):
        """A link to the connection's events whose body names this record (the
        WebhookEvent search), computed when followed, not on every page view."""
        if obj.pk is None:
            return "—"
        url = reverse("admin:connections_webhookevent_changelist") + "?" + urlencode(
            {"connection": str(obj.connection_id), "q": obj.external_id})
        return format_html('<a href="{}">Events of this connection mentioning {}</a>', url, obj.external_id)

    @admin.display(description="Raw payload")
    def raw_pretty(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(obj.raw, indent=2, default=str))


class ConnectionAdminForm(forms.ModelForm):
    """Support may edit the trigger rule and field map (JSON); they are checked
    as the merchant's settings page checks them, and stored as it stores them."""

    class Meta:
        model = Connection
        fields = "__all__"

    def clean(self):
        from .services import connection_config_validate

        cleaned = super().clean()
        if "trigger_rule" not in cleaned or "field_map" not in cleaned:
            return cleaned  # a JSON syntax error, already reported on its field
        try:
            cleaned["trigger_rule"], cleaned["field_map"] = connection_config_validate(
                connection=self.instance, trigger_rule=cleaned["trigger_rule"] or {},
                field_map=cleaned["field_map"] or {})
        except ApplicationError as exc:
            for key, problems in (exc.extra or {}).items():
                field, _, part = key.partition(".")
                self.add_error(field, [f"{part}: {p}" if part else p for p in problems])
        return cleaned


@admin.register(Connection)
class ConnectionAdmin(AuditedModelAdmin):
    form = ConnectionAdminForm
    list_display = ("__str__", "organization", "vendor", "kind", "status", "sync_progress", "last_synced_at",
                    "created_at")
    # "Revoke pending until" has a "Has date" choice: the disconnects whose revocation is still being asked.
    list_filter = ("vendor", "kind", "status", "revoke_pending_until")
    search_fields = ("=id", "external_account_id", "display_name", "organization__name", "=organization__id")
    # Who owns it, which vendor account it is, and what the vendor or the sync
    # runner wrote: state changes go through the actions (services), never a
    # raw edit. Left editable: TaxPoynt's own configuration and the sync cursor.
    readonly_fields = ("id", "organization", "vendor", "kind", "status", "display_name", "external_account_id",
                       "scopes", "token_expires_at", "sync_checkpoint", "sync_progress_done", "sync_progress_total",
                       "last_synced_at", "last_error", "import_started_at", "import_finished_at", "periodic_task",
                       "connected_by", "disconnected_at", "revoke_pending_until", "created_at", "updated_at")
    exclude = ("credentials",)
    list_select_related = ("organization",)
    actions = ("resync", "historical_import", "revoke")

    def has_add_permission(self, request):
        return False  # connections are made by the merchant's OAuth connect

    @admin.display(description="Sync progress")
    def sync_progress(self, obj):
        if obj.sync_progress_total is None:
            return "—"
        return f"{obj.sync_progress_done} / {obj.sync_progress_total}"

    def _sync(self, request, queryset, mode):
        from .services import connection_request_sync

        for conn in queryset:
            try:
                connection_request_sync(connection=conn, mode=mode)
            except ApplicationError as exc:
                self.message_user(request, f"{conn}: {exc.message}", level=messages.WARNING)
                continue
            self.audit_action(request, conn, f"admin_sync_{mode}")
            self.message_user(request, f"{conn}: {mode} sync queued.")

    # Every action here writes or calls the vendor: only staff allowed to change
    # connections may run one (a view-only agent neither sees nor can post it).
    @admin.action(description="Re-sync now (delta)", permissions=["change"])
    def resync(self, request, queryset):
        self._sync(request, queryset, "delta")

    @admin.action(description="Historical import (from the beginning)", permissions=["change"])
    def historical_import(self, request, queryset):
        self._sync(request, queryset, "historical")

    @admin.action(description="Revoke (disconnect upstream, erase tokens)", permissions=["change"])
    def revoke(self, request, queryset):
        from .services import connection_disconnect

        for conn in queryset:
            before = snapshot(conn)
            conn = connection_disconnect(connection=conn)
            self.audit_action(request, conn, "admin_revoke", before=before, after=snapshot(conn))
            if conn.last_error:  # disconnected here, the vendor did not confirm
                self.message_user(request, f"{conn}: {conn.last_error}", level=messages.WARNING)
            else:
                self.message_user(request, f"{conn}: revoked.")


@admin.register(WebhookEvent)
class WebhookEventAdmin(AuditedModelAdmin):
    list_display = ("event_id", "vendor", "event_type", "organization", "status", "attempts", "received_at")
    list_filter = ("vendor", "status", "event_type")
    search_fields = ("=id", "event_id", "organization__name", "=organization__id")
    search_help_text = "Event id or organization; within one connection's events (a sale's \"webhook events\" " \
                       "link) also any id in the body: a Square order id finds its order, payment and refund events."
    date_hierarchy = "received_at"
    exclude = ("raw_body",)
    readonly_fields = ("id", "vendor", "event_id", "event_type", "organization", "connection", "body_text",
                       "headers", "received_at", "status", "attempts", "claimed_until", "error", "processed_at")
    list_select_related = ("organization",)

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        # Reading bodies scans them: only within one connection's events (the
        # queryset is already filtered), never the whole table.
        if term and not any(c.isspace() for c in term) and request.GET.get("connection"):
            results = results | webhook_events_mentioning(queryset, text=term)
        return results, may_have_duplicates

    @admin.display(description="Raw body")
    def body_text(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>",
                           bytes(obj.raw_body).decode("utf-8", "replace"))

    actions = ("replay",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay webhook event", permissions=["change"])
    def replay(self, request, queryset):
        from .services import webhook_event_replay

        queued = 0
        for event in queryset:
            before = snapshot(event)
            try:
                event = webhook_event_replay(event=event)
            except ApplicationError as exc:  # e.g. still no connection to route it to
                self.message_user(request, f"{event}: {exc.message}", level=messages.WARNING)
                continue
            self.audit_action(request, event, "admin_replay", before=before, after=snapshot(event))
            queued += 1
        if queued:
            self.message_user(request, f"{queued} event(s) queued for replay.")


@admin.register(RejectedWebhook)
class RejectedWebhookAdmin(AuditedModelAdmin):
    org_field = None
    list_display = ("received_at", "vendor", "reason", "message", "remote_addr", "body_size")
    list_filter = ("vendor", "reason")
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in RejectedWebhook._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.none()  # not tenant data: superusers only


@admin.register(VendorExchange)
class VendorExchangeAdmin(AuditedModelAdmin):
    list_display = ("at", "vendor", "method", "url", "status_code", "latency_ms", "organization")
    list_filter = ("vendor", "status_code")
    search_fields = ("url", "=connection__id", "organization__name")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in VendorExchange._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

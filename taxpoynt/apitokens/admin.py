"""Support view of API tokens: metadata only (the secret is never stored) and a
revoke action. Tokens belong to users, not organizations: superusers see all,
other staff only their own."""
from django.contrib import admin

from taxpoynt.audit.admin import AuditedModelAdmin
from taxpoynt.audit.models import AuditLog

from .models import ApiToken
from .services import token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    org_field = None
    list_display = ("name", "prefix", "user", "organization", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("=prefix", "name", "user__email")
    readonly_fields = ("id", "user", "name", "prefix", "organization", "created_at", "last_used_at", "revoked_at")
    exclude = ("secret_sha256",)
    actions = ["revoke"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user", "organization")
        return qs if request.user.is_superuser else qs.filter(user=request.user)

    def has_add_permission(self, request):
        return False  # tokens are issued in the dashboard, where the plaintext is shown once

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            token_revoke(token=token, actor=request.user, source=AuditLog.Source.ADMIN)
        self.message_user(request, "Revoked.")

from django.contrib import admin

from taxpoynt.audit.admin import AuditedModelAdmin

from .models import Membership, Organization, StaffAssignment


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(AuditedModelAdmin):
    org_field = "pk"
    list_display = ("name", "slug", "tin", "firs_service_id", "default_currency", "created_at")
    search_fields = ("name", "slug", "tin", "=id", "=firs_business_id", "firs_service_id")
    list_filter = ("default_currency", "country")
    readonly_fields = ("id", "created_at", "updated_at")
    exclude = ("firs_api_key", "firs_api_secret", "firs_crypto_keys")
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "organization__name", "=organization__id")
    autocomplete_fields = ("user",)


@admin.register(StaffAssignment)
class StaffAssignmentAdmin(AuditedModelAdmin):
    list_display = ("user", "organization")
    search_fields = ("user__email", "organization__name")

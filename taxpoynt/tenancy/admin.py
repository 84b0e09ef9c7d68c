"""Support console for organizations, memberships and staff assignments, and
allauth's email addresses (their verify action for staff who may change them)."""
from allauth.account import admin as account_admin
from allauth.account.models import EmailAddress
from django.contrib import admin

from taxpoynt.audit.admin import AuditedModelAdmin, change_permission_required

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


admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class EmailAddressAdmin(account_admin.EmailAddressAdmin):
    make_verified = change_permission_required(account_admin.EmailAddressAdmin.make_verified)

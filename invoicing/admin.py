from django.contrib import admin

from taxpoynt.audit.admin import AuditedModelAdmin

from .models import Invoice, InvoiceLine, InvoiceSequence, Submission, SubmissionAttempt


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return False


class SubmissionInline(admin.TabularInline):
    model = Submission
    extra = 0
    can_delete = False
    fields = ("format", "state", "blocking_level", "attempt_count", "next_attempt_at", "error")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(AuditedModelAdmin):
    list_display = ("__str__", "kind", "irn", "organization", "customer_name", "payable_amount", "currency",
                    "tax_mismatch", "issue_date", "created_at")
    list_filter = ("kind", "tax_mismatch", "source_system", "submissions__state", "currency")
    search_fields = ("=id", "number", "irn", "source_id", "customer_name", "customer_tin", "organization__name",
                     "=organization__id")
    date_hierarchy = "created_at"
    inlines = [InvoiceLineInline, SubmissionInline]
    list_select_related = ("organization",)

    def get_readonly_fields(self, request, obj=None):
        # Invoices are built by the pipeline; support never edits one by hand.
        return [f.name for f in Invoice._meta.concrete_fields]


class SubmissionAttemptInline(admin.TabularInline):
    model = SubmissionAttempt
    extra = 0
    can_delete = False
    fields = ("created_at", "step", "from_state", "to_state", "response_status", "latency_ms", "outcome", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(AuditedModelAdmin):
    org_field = "invoice__organization"
    list_display = ("invoice", "format", "state", "blocking_level", "attempt_count", "next_attempt_at", "updated_at")
    list_filter = ("state", "format", "blocking_level")
    search_fields = ("=id", "invoice__number", "invoice__irn", "=invoice__id", "invoice__organization__name")
    exclude = ("signed_payload",)
    inlines = [SubmissionAttemptInline]
    list_select_related = ("invoice",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Submission._meta.concrete_fields if f.name != "signed_payload"]


@admin.register(SubmissionAttempt)
class SubmissionAttemptAdmin(AuditedModelAdmin):
    org_field = "submission__invoice__organization"
    list_display = ("submission", "step", "from_state", "to_state", "response_status", "latency_ms", "outcome",
                    "created_at")
    list_filter = ("step", "outcome")
    search_fields = ("=submission__id", "submission__invoice__irn", "submission__invoice__number")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in SubmissionAttempt._meta.concrete_fields]

    def has_add_permission(self, request):
        return False


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(AuditedModelAdmin):
    list_display = ("organization", "kind", "last_number")
    readonly_fields = ("organization", "kind", "last_number")

    def has_add_permission(self, request):
        return False

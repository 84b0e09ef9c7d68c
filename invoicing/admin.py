"""Support console for invoices and submissions: read-only documents, the
attempt history, the dead-letter filter, the FIRS circuit breaker state, and
the audited retry/resubmit action."""
import json

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from taxpoynt.audit.admin import AuditedModelAdmin
from taxpoynt.audit.services import snapshot
from taxpoynt.errors import ApplicationError

from . import services
from .models import Invoice, InvoiceLine, InvoiceSequence, Submission, SubmissionAttempt


def firs_breaker_state() -> dict | None:
    """The circuit breaker of the configured FIRS upstream, for display."""
    try:
        from .firs.breaker import CircuitBreaker
    except ImportError:
        return None
    try:
        return CircuitBreaker(settings.FIRS_BASE_URL.rstrip("/")).state()
    except Exception as exc:  # noqa: BLE001 - the cache being down must not break the admin
        return {"state": f"unknown ({exc.__class__.__name__})"}


def render_errors(errors) -> str:
    if not errors:
        return "—"
    return format_html("<ul>{}</ul>", format_html_join(
        "", "<li><code>{}</code> {} <small>{}</small></li>",
        ((e.get("rule", ""), e.get("message", ""), e.get("path", "")) for e in errors if isinstance(e, dict))))


class DeadLetterFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return (("dead", "Dead letters (retries exhausted)"), ("stuck", "Dead, unknown or rejected"),
                ("retrying", "Retrying (warning)"))

    def queryset(self, request, queryset):
        value = self.value()
        if value == "dead":
            return queryset.filter(state=Submission.State.DEAD)
        if value == "stuck":
            return queryset.filter(state__in=[Submission.State.DEAD, Submission.State.UNKNOWN,
                                              Submission.State.REJECTED])
        if value == "retrying":
            return queryset.filter(blocking_level=Submission.BlockingLevel.WARNING,
                                   state__in=[Submission.State.DRAFT, Submission.State.VALIDATED,
                                              Submission.State.SIGNED, Submission.State.TRANSMITTED,
                                              Submission.State.UNKNOWN])
        return queryset


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


class FirsStateFilter(admin.SimpleListFilter):
    """On the invoice's copy of its FIRS submission state: no join, and the
    choices come from the state machine instead of a DISTINCT over every invoice."""

    title = "FIRS state"
    parameter_name = "firs_state"

    def lookups(self, request, model_admin):
        return Submission.State.choices

    def queryset(self, request, queryset):
        return queryset.filter(firs_state=self.value()) if self.value() else queryset


@admin.register(Invoice)
class InvoiceAdmin(AuditedModelAdmin):
    list_display = ("__str__", "kind", "irn", "organization", "customer_name", "payable_amount", "currency",
                    "firs_state", "tax_mismatch", "issue_date", "created_at")
    list_filter = ("kind", "tax_mismatch", "source_system", FirsStateFilter, "currency")
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
    list_display = ("invoice", "format", "state", "blocking_level", "error_source", "attempt_count",
                    "next_attempt_at", "short_error", "updated_at")
    list_filter = (DeadLetterFilter, "state", "format", "blocking_level", "error_source", "queue")
    search_fields = ("=id", "invoice__number", "invoice__irn", "=invoice__id", "invoice__organization__name")
    exclude = ("signed_payload", "errors")
    inlines = [SubmissionAttemptInline]
    list_select_related = ("invoice",)
    actions = ["retry_submissions"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Submission._meta.concrete_fields
                if f.name not in ("signed_payload", "errors")] + ["errors_list", "payload_text", "circuit_breaker"]

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.error[:120] + "…") if len(obj.error) > 120 else obj.error

    @admin.display(description="errors (every failed rule)")
    def errors_list(self, obj):
        return render_errors(obj.errors)

    @admin.display(description="payload sent (exact bytes)")
    def payload_text(self, obj):
        if not obj.signed_payload:
            return "—"
        return format_html("<pre style=\"white-space: pre-wrap; max-height: 30em; overflow: auto\">{}</pre>",
                           bytes(obj.signed_payload).decode("utf-8", errors="replace"))

    @admin.display(description="FIRS circuit breaker")
    def circuit_breaker(self, obj=None):
        state = firs_breaker_state()
        if state is None:
            return "not available"
        return format_html("<code>{}</code>", json.dumps(state, default=str))

    def changelist_view(self, request, extra_context=None):
        state = firs_breaker_state()
        if state is not None:
            level = messages.WARNING if state.get("state") != "closed" else messages.INFO
            self.message_user(request, f"FIRS circuit breaker ({settings.FIRS_BASE_URL}): {state.get('state')}"
                              f" — {state.get('consecutive_failures', 0)} consecutive failure(s)", level)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Retry / resubmit to FIRS (same number, IRN and bytes)", permissions=["change"])
    def retry_submissions(self, request, queryset):
        done, refused = 0, []
        for submission in queryset:
            before = snapshot(submission)
            try:
                services.submission_retry(submission=submission)
            except ApplicationError as exc:
                refused.append(f"{submission}: {exc.message}")
                continue
            submission.refresh_from_db()
            self.audit_action(request, submission, "retry", before=before, after=snapshot(submission))
            done += 1
        if done:
            self.message_user(request, f"{done} submission(s) queued for another attempt.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)


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

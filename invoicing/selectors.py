"""Reads on invoices and submissions, always scoped to the user's orgs.

`invoice_list` filters; `invoice_list_ordering` is the order a list of those
filters is paged in (the API's cursor uses it). Each common filter has an
index that yields rows already in that order (Invoice.Meta.indexes,
docs/performance.md), so a page reads ~page-size rows, not the organization."""
from django.db.models import Prefetch, QuerySet

from taxpoynt.tenancy.selectors import scope_to_user

from .models import Invoice, Submission, SubmissionAttempt


def invoice_list(*, user, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = scope_to_user(Invoice.objects.all(), user=user)
    simple = {
        "kind": "kind",
        "firs_status": "firs_state",  # the copy on the invoice: one index range, no join
        "organization": "organization_id",
        "connection": "connection_id",
        "source_system": "source_system",
        "irn": "irn",
        "tax_mismatch": "tax_mismatch",
        "issue_date_from": "issue_date__gte",
        "issue_date_to": "issue_date__lte",
        "amount_min": "payable_amount__gte",
        "amount_max": "payable_amount__lte",
    }
    for key, lookup in simple.items():
        if filters.get(key) not in (None, ""):
            qs = qs.filter(**{lookup: filters[key]})
    return qs


CREATED_ORDERING = ("-created_at",)
ISSUE_DATE_ORDERING = ("-issue_date", "-created_at")


def invoice_list_ordering(*, filters: dict | None = None) -> tuple[str, ...]:
    """Newest first; by issue date when the list is limited to issue dates, so
    the range is read in index order (organization, -issue_date, -created_at)
    instead of walking every newer invoice to find the range."""
    filters = filters or {}
    if filters.get("issue_date_from") or filters.get("issue_date_to"):
        return ISSUE_DATE_ORDERING
    return CREATED_ORDERING


def invoice_get(*, user, invoice_id) -> Invoice:
    return invoice_list(user=user).prefetch_related("lines", "submissions").get(pk=invoice_id)


def invoice_submissions(*, invoice: Invoice) -> QuerySet:
    """The invoice's submissions with their full attempt history."""
    return (Submission.objects.filter(invoice=invoice)
            .prefetch_related(Prefetch("attempts", queryset=SubmissionAttempt.objects.order_by("created_at")))
            .order_by("created_at"))


def firs_submission(*, invoice: Invoice) -> Submission | None:
    return next((s for s in invoice.submissions.all() if s.format == "firs"), None)


def submissions_dead_letter(*, organization=None) -> QuerySet:
    """Submissions that stopped and need a person: dead, unknown, rejected."""
    qs = Submission.objects.filter(state__in=[Submission.State.DEAD, Submission.State.UNKNOWN,
                                              Submission.State.REJECTED])
    if organization is not None:
        qs = qs.filter(invoice__organization=organization)
    return qs.select_related("invoice").order_by("-updated_at")

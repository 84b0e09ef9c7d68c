"""What the overview page shows, per organization."""
from django.db.models import Count, Q, Sum
from django.utils import timezone

from integrations.connections.models import Connection
from invoicing.models import Invoice, Submission


def overview_for_organization(*, organization) -> dict:
    today = timezone.localdate()
    invoices = Invoice.objects.filter(organization=organization)
    today_stats = invoices.filter(created_at__date=today).aggregate(count=Count("id"), value=Sum("payable_amount"))
    by_state = dict(
        Submission.objects.filter(invoice__organization=organization, format="firs")
        .values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )
    attention = Submission.objects.filter(
        invoice__organization=organization,
        state__in=[Submission.State.REJECTED, Submission.State.DEAD, Submission.State.UNKNOWN],
    ).count() + invoices.filter(tax_mismatch=True).count()
    return {
        "connections": Connection.objects.filter(organization=organization).exclude(
            status=Connection.Status.DISCONNECTED).order_by("kind", "vendor"),
        "today_count": today_stats["count"] or 0,
        "today_value": today_stats["value"] or 0,
        "by_state": [(label, by_state.get(value, 0)) for value, label in Submission.State.choices],
        "needs_attention": attention,
        "recent_invoices": invoices.order_by("-created_at")[:10],
        "invoice_total": invoices.count(),
        "tax_mismatches": invoices.filter(tax_mismatch=True).count(),
        "has_any": Q(),
    }

"""What the overview page shows, per organization."""
from django.db.models import Count, Sum
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
    attention = needs_attention(organization=organization)
    return {
        "connections": Connection.objects.filter(organization=organization).exclude(
            status=Connection.Status.DISCONNECTED).order_by("kind", "vendor"),
        "today_count": today_stats["count"] or 0,
        "today_value": today_stats["value"] or 0,
        "by_state": [(label, by_state.get(value, 0)) for value, label in Submission.State.choices],
        "needs_attention": len(attention),
        "attention": attention,
        "recent_invoices": invoices.order_by("-created_at")[:10],
        "invoice_total": invoices.count(),
        "tax_mismatches": invoices.filter(tax_mismatch=True).count(),
    }


def needs_attention(*, organization, limit: int = 20) -> list[dict]:
    """What a merchant should look at: FIRS submissions that stopped (rejected,
    dead-lettered, outcome unknown), tax mismatches, sales not invoiced (with
    the reason), webhook events that failed, and connections that need
    re-authorization or failed. Each row says whether one click can retry it;
    a row without an invoice links to where it is seen (`url`, `what`)."""
    from django.urls import reverse

    from integrations.connections.models import WebhookEvent
    from integrations.pos.models import NOT_INVOICED, Transaction
    from invoicing.services import submission_can_retry

    rows = []
    stopped = (Submission.objects.filter(invoice__organization=organization, format="firs",
                                         state__in=[Submission.State.REJECTED, Submission.State.DEAD,
                                                    Submission.State.UNKNOWN])
               .select_related("invoice").order_by("-updated_at")[:limit])
    for sub in stopped:
        rows.append({"kind": "submission", "invoice": sub.invoice, "state": sub.state,
                     "label": sub.get_state_display(), "detail": (sub.error or "")[:200],
                     "can_retry": submission_can_retry(sub)})
    for inv in Invoice.objects.filter(organization=organization, tax_mismatch=True).order_by("-created_at")[:limit]:
        rows.append({"kind": "tax_mismatch", "invoice": inv, "state": "mismatch", "label": "Tax mismatch",
                     "detail": "The source system's tax or total differs from ours.", "can_retry": False})
    not_invoiced = Transaction.objects.filter(NOT_INVOICED, organization=organization).order_by("-occurred_at")[:limit]
    sales_url = reverse("dashboard:transactions") + "?not_invoiced=on"
    for txn in not_invoiced:
        rows.append({"kind": "sale", "transaction": txn, "state": "not-invoiced", "label": "Not invoiced",
                     "what": f"Sale {txn.external_id}", "url": sales_url, "detail": txn.invoice_error[:200],
                     "can_retry": False})
    failed = (WebhookEvent.objects.filter(organization=organization, status=WebhookEvent.Status.FAILED)
              .select_related("connection").order_by("-received_at")[:limit])
    for event in failed:
        rows.append({"kind": "event", "event": event, "state": "failed", "label": "Webhook event failed",
                     "what": f"{event.vendor.title()} {event.event_type} {event.event_id}",
                     "url": reverse("connections:detail", args=[event.connection_id]) if event.connection_id else "",
                     "detail": (event.error or "")[:200], "can_retry": False})
    for conn in Connection.objects.filter(organization=organization, status__in=[
            Connection.Status.NEEDS_REAUTH, Connection.Status.ERROR]):
        rows.append({"kind": "connection", "connection": conn, "state": conn.status,
                     "label": conn.get_status_display(), "detail": (conn.last_error or "")[:200], "can_retry": False})
    return rows

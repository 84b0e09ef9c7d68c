"""Dashboard pages. Each view parses input with a form, calls selectors, renders."""
import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from integrations.pos import selectors as pos_selectors
from invoicing import selectors as invoice_selectors
from invoicing.models import Invoice
from taxpoynt.tenancy.models import Organization
from taxpoynt.tenancy.selectors import current_organization, organization_list

from .forms import InvoiceFilterForm, TransactionFilterForm
from .selectors import overview_for_organization

PAGE_SIZE = 50


def _org_or_403(request):
    org = current_organization(request=request)
    if org is None:
        return None, render(request, "dashboard/no_organization.html", status=403)
    return org, None


def _day_bounds(data):
    """Date filters → aware datetimes in the merchant's time zone ([from, to+1day))."""
    bounds = {}
    tz = timezone.get_current_timezone()
    if data.get("date_from"):
        bounds["occurred_from"] = datetime.datetime.combine(data["date_from"], datetime.time.min, tzinfo=tz)
    if data.get("date_to"):
        bounds["occurred_to"] = datetime.datetime.combine(
            data["date_to"] + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    return bounds


@login_required
def overview(request):
    org, denied = _org_or_403(request)
    if denied:
        return denied
    return render(request, "dashboard/overview.html", {"organization": org, **overview_for_organization(organization=org)})


@login_required
@require_POST
def switch_organization(request):
    org_id = request.POST.get("organization_id", "")
    try:
        org = organization_list(user=request.user).get(pk=org_id)
    except (Organization.DoesNotExist, ValueError, Exception):
        messages.error(request, "You are not a member of that organization.")
        return redirect("dashboard:overview")
    request.session["organization_id"] = str(org.pk)
    messages.success(request, f"Now showing {org.name}.")
    return redirect("dashboard:overview")


def _transaction_filters(request, org):
    locations = pos_selectors.location_list(user=request.user, filters={"organization": org.pk})
    form = TransactionFilterForm(request.GET or None, locations=locations)
    filters = {"organization": org.pk}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters.update(_day_bounds(data))
        if data.get("status"):
            filters["status"] = data["status"]
        if data.get("location"):
            filters["location"] = data["location"]
    return form, filters


@login_required
def transactions(request):
    org, denied = _org_or_403(request)
    if denied:
        return denied
    form, filters = _transaction_filters(request, org)
    qs = pos_selectors.transaction_list(user=request.user, filters=filters).order_by("-occurred_at")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/transactions.html", {"organization": org, "form": form, "page": page})


@login_required
def transactions_live(request):
    """The newest transactions and their invoice status, polled by the list page."""
    org, denied = _org_or_403(request)
    if denied:
        return JsonResponse({"code": "forbidden", "message": "No organization."}, status=403)
    form, filters = _transaction_filters(request, org)
    rows = pos_selectors.transaction_list(user=request.user, filters=filters).order_by("-occurred_at")[:PAGE_SIZE]
    return JsonResponse({"results": [_transaction_row(t) for t in rows]})


def _transaction_row(txn):
    invoice = txn.invoice
    submission = invoice.submissions.first() if invoice else None
    return {
        "id": str(txn.pk), "external_id": txn.external_id, "status": txn.get_status_display(),
        "occurred_at": timezone.localtime(txn.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
        "location": txn.location.name if txn.location else "",
        "total": f"{txn.currency} {txn.total_amount:,.2f}",
        "invoice_number": invoice.number if invoice else "",
        "invoice_url": f"/dashboard/invoices/{invoice.pk}" if invoice else "",
        "firs_status": submission.get_state_display() if submission else "Not invoiced",
        "firs_state": submission.state if submission else "none",
    }


@login_required
def invoices(request):
    org, denied = _org_or_403(request)
    if denied:
        return denied
    form = InvoiceFilterForm(request.GET or None)
    filters = {"organization": org.pk}
    qs = invoice_selectors.invoice_list(user=request.user, filters=filters)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        qs = invoice_selectors.invoice_list(user=request.user, filters={
            **filters, "firs_status": data.get("firs_status"), "kind": data.get("kind"),
            "issue_date_from": data.get("date_from"), "issue_date_to": data.get("date_to"),
            "tax_mismatch": True if data.get("tax_mismatch") else None,
        })
        if data.get("q"):
            q = data["q"]
            qs = qs.filter(Q(number__icontains=q) | Q(irn__icontains=q) | Q(customer_name__icontains=q))
    page = Paginator(qs.prefetch_related("submissions").order_by("-created_at"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "dashboard/invoices.html", {"organization": org, "form": form, "page": page})


@login_required
def invoice_detail(request, invoice_id):
    org, denied = _org_or_403(request)
    if denied:
        return denied
    try:
        invoice = invoice_selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    except (Invoice.DoesNotExist, ValueError):
        return render(request, "dashboard/not_found.html", {"what": "invoice"}, status=404)
    submission = invoice.submissions.first()
    attempts = submission.attempts.order_by("created_at") if submission else []
    return render(request, "dashboard/invoice_detail.html", {
        "organization": org, "invoice": invoice, "submission": submission, "attempts": attempts,
        "lines": invoice.lines.all(), "canonical": invoice.canonical})


@login_required
def analytics(request):
    org, denied = _org_or_403(request)
    if denied:
        return denied
    filters = {"organization": org.pk}
    volume = pos_selectors.transaction_volume(user=request.user, filters=filters)
    peaks = pos_selectors.peak_hours(user=request.user, filters=filters)
    top = pos_selectors.top_items(user=request.user, filters=filters)
    chart_data = {
        "volume": {"labels": [r["bucket"][:10] for r in volume], "counts": [r["count"] for r in volume],
                   "totals": [float(r["total"]) for r in volume]},
        "top_items": {"labels": [r["item"] for r in top], "net": [float(r["net_amount"]) for r in top]},
    }
    crm = _crm_analytics(request.user, filters)
    if crm:
        chart_data.update(crm["chart_data"])
    return render(request, "dashboard/analytics.html", {
        "organization": org, "volume": volume, "peaks": peaks, "top_items": top, "chart_data": chart_data,
        "crm": crm, "hours": range(24), "busiest_day": peaks["weekdays"][peaks["busiest"]["weekday"] - 1]})


def _crm_analytics(user, filters):
    """CRM charts, when the CRM analytics selectors exist."""
    try:
        from integrations.crm import analytics as crm_analytics
    except ImportError:
        return None
    conversion = crm_analytics.conversion_rates(user=user, filters=filters)
    pipeline = crm_analytics.revenue_pipeline(user=user, filters=filters)
    return {
        "conversion": conversion, "pipeline": pipeline,
        "chart_data": {
            "conversion": {"labels": [r["period"] for r in conversion],
                           "rates": [float(r["rate"]) if r["rate"] is not None else None for r in conversion]},
            "pipeline": {"labels": [r["stage"] for r in pipeline], "amounts": [float(r["amount"]) for r in pipeline]},
        },
    }

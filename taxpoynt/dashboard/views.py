"""Dashboard pages. Each view parses input with a form, calls selectors, renders."""
import datetime
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from integrations.pos import selectors as pos_selectors
from invoicing import selectors as invoice_selectors
from invoicing.canonical import SourceRef
from invoicing.models import Invoice
from invoicing.services import credit_note_create, submission_can_retry, submission_retry
from taxpoynt.audit.models import AuditLog
from taxpoynt.errors import ApplicationError
from taxpoynt.tenancy.models import Organization
from taxpoynt.tenancy.selectors import current_organization, organization_list, user_can_manage

from .forms import AnalyticsFilterForm, CreditNoteForm, InvoiceFilterForm, TransactionFilterForm
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


def _pos_filters(request, org, form_class):
    """The bound filter form of a POS page and the selectors' filters from it
    (the organization's alone while the form is unbound or invalid: its
    errors are shown in the page)."""
    locations = pos_selectors.location_list(user=request.user, filters={"organization": org.pk})
    form = form_class(request.GET or None, locations=locations)
    filters = {"organization": org.pk}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters.update(_day_bounds(data))
        for name in ("status", "location", "not_invoiced"):
            if data.get(name):
                filters[name] = data[name]
    return form, filters


def _transaction_filters(request, org):
    return _pos_filters(request, org, TransactionFilterForm)


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
    return {
        "id": str(txn.pk), "external_id": txn.external_id, "status": txn.get_status_display(),
        "occurred_at": timezone.localtime(txn.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
        "location": txn.location.name if txn.location else "",
        "total": f"{txn.currency} {txn.total_amount:,.2f}",
        "invoice_number": invoice.number if invoice else "",
        "invoice_url": f"/dashboard/invoices/{invoice.pk}" if invoice else "",
        "firs_status": invoice.firs_state_label if invoice else "Not invoiced",
        "firs_state": invoice.firs_state if invoice else "none",
        "invoice_error": "" if invoice else txn.invoice_error,
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
    page = Paginator(qs.order_by("-created_at"), PAGE_SIZE).get_page(
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
        "lines": invoice.lines.all(), "canonical": invoice.canonical,
        "can_manage": user_can_manage(user=request.user, organization_id=invoice.organization_id),
        "can_retry": submission is not None and submission_can_retry(submission),
        "can_credit": invoice.kind == Invoice.Kind.INVOICE and bool(invoice.irn),
        "credit_form": CreditNoteForm(initial={"request_key": uuid.uuid4().hex})})


def _invoice_for_action(request, invoice_id):
    """The invoice if the user may act on it (owner/accountant), else a message."""
    try:
        invoice = invoice_selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    except (Invoice.DoesNotExist, ValueError):
        return None, render(request, "dashboard/not_found.html", {"what": "invoice"}, status=404)
    if not user_can_manage(user=request.user, organization_id=invoice.organization_id):
        messages.error(request, "Only an owner or accountant of the organization can do this.")
        return None, redirect("dashboard:invoice-detail", invoice_id=invoice.pk)
    return invoice, None


def _back(request, invoice):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("dashboard:invoice-detail", invoice_id=invoice.pk)


@login_required
@require_POST
def invoice_retry(request, invoice_id):
    invoice, refused = _invoice_for_action(request, invoice_id)
    if refused:
        return refused
    submission = invoice.submissions.filter(format="firs").first()
    try:
        if submission is None:
            raise ApplicationError("this invoice has no FIRS submission")
        submission_retry(submission=submission, actor=request.user, audit_source=AuditLog.Source.DASHBOARD)
    except ApplicationError as exc:
        messages.error(request, f"Not retried: {exc.message}")
    else:
        messages.success(request, f"Invoice {invoice.number or invoice.pk} is being sent to FIRS again.")
    return _back(request, invoice)


@login_required
@require_POST
def invoice_credit_note(request, invoice_id):
    invoice, refused = _invoice_for_action(request, invoice_id)
    if refused:
        return refused
    form = CreditNoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not credited: " + "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect("dashboard:invoice-detail", invoice_id=invoice.pk)
    # The form's one-time key makes a double submit return the same credit note.
    source = SourceRef(system="taxpoynt", type="credit_note", id=f"{invoice.pk}:{form.cleaned_data['request_key']}")
    try:
        credit = credit_note_create(invoice=invoice, source=source, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        messages.error(request, f"Not credited: {exc.message}")
        return redirect("dashboard:invoice-detail", invoice_id=invoice.pk)
    messages.success(request, f"Credit note created for {invoice.number}; it is on its way to FIRS.")
    return redirect("dashboard:invoice-detail", invoice_id=credit.pk)


@login_required
def analytics(request):
    org, denied = _org_or_403(request)
    if denied:
        return denied
    form, filters = _pos_filters(request, org, AnalyticsFilterForm)
    volume = pos_selectors.transaction_volume(user=request.user, filters=filters)
    peaks = pos_selectors.peak_hours(user=request.user, filters=filters)
    top = pos_selectors.top_items(user=request.user, filters=filters)
    chart_data = {
        "volume": {"labels": [r["bucket"][:10] for r in volume], "counts": [r["count"] for r in volume],
                   "totals": [float(r["total"]) for r in volume]},
        "top_items": {"labels": [r["item"] for r in top], "net": [float(r["net_amount"]) for r in top]},
    }
    crm = _crm_analytics(request.user, {"organization": org.pk})  # the CRM charts have no period or store
    if crm:
        chart_data.update(crm["chart_data"])
    return render(request, "dashboard/analytics.html", {
        "organization": org, "form": form, "volume": volume, "peaks": peaks, "top_items": top,
        "chart_data": chart_data,
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

"""What a person or another system downloads for one invoice: print-ready
HTML and PDF (with the QR of the FIRS stamp), and the stored UBL XML, FIRS JSON
and QR PNG. Everything is read from the frozen invoice as stored; nothing here
rebuilds a document, so a download always matches what FIRS received.
"""
import base64
from dataclasses import dataclass

from django.template.loader import render_to_string

from taxpoynt.errors import ApplicationError

from .models import Invoice


@dataclass
class Rendition:
    content: bytes
    content_type: str
    filename: str


def _require_frozen(invoice: Invoice, what: str):
    if not invoice.is_frozen:
        raise ApplicationError(f"the invoice has no {what} yet: it is not numbered and stamped",
                               code="not_ready")


def _basename(invoice: Invoice) -> str:
    return invoice.number or f"draft-{invoice.pk}"


def invoice_xml(invoice: Invoice) -> Rendition:
    _require_frozen(invoice, "UBL XML")
    return Rendition(invoice.ubl_xml.encode("utf-8"), "application/xml", f"{_basename(invoice)}.xml")


def invoice_json(invoice: Invoice) -> Rendition:
    """The FIRS payload exactly as sent (the stored bytes), else as stored."""
    _require_frozen(invoice, "FIRS JSON")
    submission = invoice.submissions.filter(format="firs").first()
    body = bytes(submission.signed_payload) if submission and submission.signed_payload else \
        invoice.firs_json.encode("utf-8")
    return Rendition(body, "application/json", f"{_basename(invoice)}.json")


def invoice_qr_png(invoice: Invoice, *, scale: int = 4) -> Rendition:
    from .firs.qr import qr_png

    _require_frozen(invoice, "QR code")
    return Rendition(qr_png(invoice.stamp, scale=scale), "image/png", f"{_basename(invoice)}-qr.png")


def _tax_subtotals(invoice: Invoice) -> list:
    from .canonical import canonical_from_dict
    from .tax import compute_totals

    try:
        return compute_totals(canonical_from_dict(invoice.canonical)).tax_subtotals
    except Exception:  # noqa: BLE001 - a draft that fails its rules still prints, without subtotals
        return []


def invoice_html(invoice: Invoice) -> str:
    """The print-ready HTML (also the PDF's source)."""
    from .firs.qr import qr_png

    canonical = invoice.canonical or {}
    submission = invoice.submissions.filter(format="firs").first()
    qr_data_uri = ""
    if invoice.stamp:
        qr_data_uri = "data:image/png;base64," + base64.b64encode(qr_png(invoice.stamp, scale=4)).decode("ascii")
    return render_to_string("invoicing/invoice_print.html", {
        "invoice": invoice,
        "title": "Credit note" if invoice.kind == Invoice.Kind.CREDIT_NOTE else "Invoice",
        "supplier": canonical.get("supplier") or {},
        "customer": canonical.get("customer") or {},
        "billing_reference": canonical.get("billing_reference"),
        "note": canonical.get("note", ""),
        "lines": list(invoice.lines.all()),
        "tax_subtotals": _tax_subtotals(invoice),
        "submission": submission,
        "firs_status": submission.get_state_display() if submission else "Not submitted",
        "qr_data_uri": qr_data_uri,
    })


def invoice_pdf(invoice: Invoice) -> Rendition:
    from weasyprint import HTML

    _require_frozen(invoice, "PDF")
    pdf = HTML(string=invoice_html(invoice)).write_pdf()
    return Rendition(pdf, "application/pdf", f"{_basename(invoice)}.pdf")

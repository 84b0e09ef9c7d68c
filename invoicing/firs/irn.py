"""The Invoice Reference Number (FIRS.md §1).

The IRN is built locally, never issued by FIRS: ``{InvoiceNumber}-{ServiceID}-{YYYYMMDD}``
(e.g. ``INV001-94ND90NR-20240611``). The invoice number is letters and digits
only, the service id is the 8 alphanumerics FIRS assigned to the taxpayer, the
date is the issue date. A bad part is an `ApplicationError`; there is no
fallback IRN, because an IRN FIRS would reject is worse than none.
"""
import datetime
import re
from dataclasses import dataclass

from taxpoynt.errors import ApplicationError

INVOICE_NUMBER_RE = re.compile(r"^[A-Za-z0-9]+$")
SERVICE_ID_RE = re.compile(r"^[A-Za-z0-9]{8}$")
IRN_RE = re.compile(r"^(?P<invoice_number>[A-Za-z0-9]+)-(?P<service_id>[A-Za-z0-9]{8})-(?P<date>[0-9]{8})$")
DATE_FORMAT = "%Y%m%d"


@dataclass(frozen=True)
class IrnParts:
    invoice_number: str
    service_id: str
    issue_date: datetime.date


def _check_invoice_number(invoice_number) -> str:
    if not isinstance(invoice_number, str) or not INVOICE_NUMBER_RE.match(invoice_number):
        raise ApplicationError(
            f"Invoice number {invoice_number!r} cannot be used in an IRN: FIRS allows letters and digits only.",
            code="invalid_irn",
        )
    return invoice_number


def _check_service_id(service_id) -> str:
    if not isinstance(service_id, str) or not SERVICE_ID_RE.match(service_id):
        raise ApplicationError(
            f"FIRS service id {service_id!r} is invalid: it must be exactly 8 letters or digits.",
            code="invalid_irn",
        )
    return service_id


def build_irn(*, invoice_number: str, service_id: str, issue_date: datetime.date) -> str:
    """``{invoice_number}-{service_id}-{YYYYMMDD}``; raises ApplicationError on a bad part."""
    _check_invoice_number(invoice_number)
    _check_service_id(service_id)
    if not isinstance(issue_date, datetime.date):
        raise ApplicationError(f"IRN issue date {issue_date!r} is not a date.", code="invalid_irn")
    return f"{invoice_number}-{service_id}-{issue_date.strftime(DATE_FORMAT)}"


def parse_irn(irn: str) -> IrnParts:
    """Split an IRN into its parts; raises ApplicationError when it is malformed."""
    match = IRN_RE.match(irn) if isinstance(irn, str) else None
    if not match:
        raise ApplicationError(
            f"IRN {irn!r} is malformed: expected {{InvoiceNumber}}-{{ServiceID}}-{{YYYYMMDD}}, "
            "with a letters-and-digits invoice number and an 8-character service id.",
            code="invalid_irn",
        )
    try:
        date = datetime.datetime.strptime(match["date"], DATE_FORMAT).date()
    except ValueError:
        raise ApplicationError(f"IRN {irn!r} has an impossible date {match['date']!r}.", code="invalid_irn") from None
    return IrnParts(invoice_number=match["invoice_number"], service_id=match["service_id"], issue_date=date)


def validate_irn(
    irn: str,
    *,
    service_id: str | None = None,
    issue_date: datetime.date | None = None,
    invoice_number: str | None = None,
) -> IrnParts:
    """Parse `irn` and check it against what the caller expects of it."""
    parts = parse_irn(irn)
    if service_id is not None and parts.service_id != service_id:
        raise ApplicationError(
            f"IRN {irn!r} carries service id {parts.service_id!r}, not the business's {service_id!r}.",
            code="invalid_irn",
        )
    if issue_date is not None and parts.issue_date != issue_date:
        raise ApplicationError(
            f"IRN {irn!r} is dated {parts.issue_date.isoformat()}, but the invoice is issued {issue_date.isoformat()}.",
            code="invalid_irn",
        )
    if invoice_number is not None and parts.invoice_number != invoice_number:
        raise ApplicationError(
            f"IRN {irn!r} carries invoice number {parts.invoice_number!r}, not {invoice_number!r}.",
            code="invalid_irn",
        )
    return parts


def irn_template(service_id: str) -> str:
    """The template FIRS shows on an entity record, e.g. ``{{invoice_id}}-59854B81-{{YYYYMMDD}}``."""
    _check_service_id(service_id)
    return "{{invoice_id}}-" + service_id + "-{{YYYYMMDD}}"


def matches_template(irn: str, template: str) -> bool:
    """Whether `irn` follows an entity's IRN template."""
    pattern = re.escape(template)
    pattern = pattern.replace(re.escape("{{invoice_id}}"), "[A-Za-z0-9]+").replace(re.escape("{{YYYYMMDD}}"), "[0-9]{8}")
    return isinstance(irn, str) and re.fullmatch(pattern, irn) is not None

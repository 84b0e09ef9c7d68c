"""The sandbox's check of an invoice body (validate and sign take the same body,
FIRS.md §4 and §7.3).

Each problem is a `Violation` whose `field` is FIRS's lower-case dotted path
(``invoicerequest.invoice.taxtotal[0].taxsubtotal[0].taxcategory.id``) and
whose `details` is the string FIRS puts in ``error.details``. Amounts are read
as Decimal (the body is parsed with ``parse_float=Decimal``); a string where
FIRS's schema has a number is refused, as the real (typed) service would.

Totals are recomputed and compared to the cent: the legal monetary total from
the lines and document allowances/charges, each tax total from its subtotals,
each subtotal's tax from its taxable amount and percent (one cent of rounding
allowed there, since the rounding mode is the SI's). Line amounts are not
recomputed from quantity × price, because FIRS's discount/fee fields on a line
have no documented arithmetic.
"""
import datetime
import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .. import codes
from ..irn import IRN_RE, matches_template

CENT = Decimal("0.01")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TIME_RE = re.compile(r"^\d{2}:\d{2}:\d{2}$")
RESOURCE_HINT = "refer to the invoice resource apis"


@dataclass
class Violation:
    field: str
    message: str
    details: str = ""

    def __post_init__(self):
        self.details = self.details or f"{self.field} {self.message}"


def path(*parts: str) -> str:
    """FIRS's spelling of a body path: snake_case names lose their underscores."""
    return ".".join([codes.FIELD_PATH_ROOT, "invoice", *(p.replace("_", "") for p in parts)])


def uuid_problem(value) -> str | None:
    """Go's google/uuid wording, which FIRS relays ("invalid UUID length: 13")."""
    text = value if isinstance(value, str) else str(value)
    if len(text) not in (32, 36, 38, 41, 45):
        return f"invalid UUID length: {len(text)}"
    try:
        uuid.UUID(text)
    except ValueError:
        return "invalid UUID format"
    return None


def q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def is_number(value) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def is_date(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


class _Checker:
    def __init__(self, body: dict, business):
        self.body = body
        self.business = business
        self.violations: list[Violation] = []

    def add(self, field, message, details=""):
        self.violations.append(Violation(field, message, details))

    def number(self, obj: dict, key: str, *parts, required=True, positive=False):
        value = obj.get(key) if isinstance(obj, dict) else None
        if value is None:
            if required:
                self.add(path(*parts, key), "is required")
            return None
        if not is_number(value):
            self.add(path(*parts, key), "must be a number")
            return None
        value = Decimal(value)
        if positive and value <= 0:
            self.add(path(*parts, key), "must be greater than zero")
        return value

    def date(self, obj: dict, key: str, *parts, required=False):
        value = obj.get(key) if isinstance(obj, dict) else None
        if value in (None, ""):
            if required:
                self.add(path(*parts, key), "is required")
            return None
        if not is_date(value):
            self.add(path(*parts, key), "must be a valid date (YYYY-MM-DD)")
            return None
        return datetime.date.fromisoformat(value)

    # --- sections ----------------------------------------------------------
    def run(self) -> list[Violation]:
        b = self.body
        self.header()
        kind = b.get("invoice_kind")
        if kind not in (None, "") and kind not in codes.INVOICE_KINDS:
            self.add(path("invoice_kind"), f"must be one of {', '.join(codes.INVOICE_KINDS)}")
        optional_tin = codes.PARTIES_WITHOUT_TIN.get(kind, ())
        for key in ("accounting_supplier_party", "accounting_customer_party"):
            party = b.get(key)
            if not isinstance(party, dict):
                self.add(path(key), "is required")
            else:
                self.party(party, key, tin_required=key not in optional_tin)
        for key in ("payee_party", "tax_representative_party"):
            if isinstance(b.get(key), dict) and b[key]:
                self.party(b[key], key)
        self.references()
        self.payment()
        lines = self.lines()
        taxes = self.tax_totals()
        lmt = self.monetary_total()
        if not self.violations and lines is not None and taxes is not None and lmt is not None:
            self.totals(lines, taxes, lmt)
        return self.violations

    def header(self):
        b = self.body
        irn = b.get("irn")
        issue_date = self.date(b, "issue_date", required=True)
        if not isinstance(irn, str) or not irn:
            self.add(path("irn"), "is required")
        elif self.business is not None:
            template = self.business.irn_template
            if not matches_template(irn, template):
                self.add(path("irn"), f"does not match the business irn template {template}")
            elif issue_date is not None and IRN_RE.match(irn)["date"] != issue_date.strftime("%Y%m%d"):
                self.add(path("irn"), "date does not match issue_date")
        self.date(b, "due_date")
        self.date(b, "tax_point_date")
        self.date(b, "actual_delivery_date")
        issue_time = b.get("issue_time")
        if issue_time not in (None, "") and not (isinstance(issue_time, str) and TIME_RE.match(issue_time)):
            self.add(path("issue_time"), "must be a valid time (HH:MM:SS)")
        code = b.get("invoice_type_code")
        if code in (None, ""):
            self.add(path("invoice_type_code"), "is required")
        elif str(code) not in codes.INVOICE_TYPES:
            self.add(path("invoice_type_code"), f"must be a valid invoice type, {RESOURCE_HINT}")
        for key in ("document_currency_code", "tax_currency_code"):
            value = b.get(key)
            if value in (None, ""):
                self.add(path(key), "is required")
            elif value not in codes.CURRENCIES:
                self.add(path(key), f"must be a valid currency, {RESOURCE_HINT}")
        status = b.get("payment_status")
        if status not in (None, "") and status not in codes.PAYMENT_STATUSES:
            self.add(path("payment_status"), f"must be one of {', '.join(codes.PAYMENT_STATUSES)}")
        period = b.get("invoice_delivery_period")
        if isinstance(period, dict):
            self.date(period, "start_date", "invoice_delivery_period", required=True)
            self.date(period, "end_date", "invoice_delivery_period", required=True)

    def party(self, party: dict, key: str, *, tin_required: bool = True):
        has_id = bool(party.get("id"))
        if not has_id and not party.get("party_name"):
            self.add(path(key, "party_name"), "is required")
        tin = party.get("tin")
        if not isinstance(tin, str) or not tin.strip():
            if tin_required:
                self.add(path(key, "tin"), "is required")
        elif len(tin.strip()) < codes.MIN_TIN_LENGTH:
            self.add(path(key, "tin"), f"must be at least {codes.MIN_TIN_LENGTH} characters")
        email = party.get("email")
        if not isinstance(email, str) or not email.strip():
            if tin_required:
                self.add(path(key, "email"), "is required")
        elif not EMAIL_RE.match(email):
            self.add(path(key, "email"), "must be a valid email address")
        telephone = party.get("telephone")
        if telephone not in (None, "") and not (isinstance(telephone, str) and telephone.startswith("+")):
            self.add(path(key, "telephone"), "must start with + (country code)")
        address = party.get("postal_address")
        if isinstance(address, dict) and address:
            country = address.get("country")
            if country in (None, ""):
                self.add(path(key, "postal_address", "country"), "is required")
            elif country not in codes.COUNTRIES:
                self.add(path(key, "postal_address", "country"), f"must be a valid country, {RESOURCE_HINT}")
        elif not has_id and not party.get("postal_address_id"):
            self.add(path(key, "postal_address"), "is required")

    def references(self):
        b = self.body

        def reference(ref, *parts):
            if not isinstance(ref, dict):
                self.add(path(*parts), "must be an object with irn and issue_date")
                return
            if not isinstance(ref.get("irn"), str) or not ref["irn"]:
                self.add(path(*parts, "irn"), "is required")
            self.date(ref, "issue_date", *parts, required=True)

        for key in ("billing_reference", "additional_document_reference"):
            refs = b.get(key)
            if refs is None:
                continue
            if not isinstance(refs, list):
                self.add(path(key), "must be a list")
                continue
            for i, ref in enumerate(refs):
                reference(ref, f"{key}[{i}]")
        for key in ("dispatch_document_reference", "receipt_document_reference",
                    "originator_document_reference", "contract_document_reference"):
            if b.get(key) is not None:
                reference(b[key], key)

    def payment(self):
        b = self.body
        for i, means in enumerate(b.get("payment_means") or []):
            part = f"payment_means[{i}]"
            code = means.get("payment_means_code") if isinstance(means, dict) else None
            if code in (None, ""):
                self.add(path(part, "payment_means_code"), "is required")
            elif str(code) not in codes.PAYMENT_MEANS:
                self.add(path(part, "payment_means_code"), f"must be a valid payment means, {RESOURCE_HINT}")
            if isinstance(means, dict):
                self.date(means, "payment_due_date", part)
        for i, ac in enumerate(b.get("allowance_charge") or []):
            part = f"allowance_charge[{i}]"
            if not isinstance(ac, dict) or not isinstance(ac.get("charge_indicator"), bool):
                self.add(path(part, "charge_indicator"), "must be true or false")
            amount = self.number(ac if isinstance(ac, dict) else {}, "amount", part)
            if amount is not None and amount < 0:
                self.add(path(part, "amount"), "must not be negative")

    def lines(self):
        lines = self.body.get("invoice_line")
        if not isinstance(lines, list) or not lines:
            self.add(path("invoice_line"), "is required")
            return None
        amounts = []
        for i, line in enumerate(lines):
            part = f"invoice_line[{i}]"
            if not isinstance(line, dict):
                self.add(path(part), "must be an object")
                continue
            self.number(line, "invoiced_quantity", part, positive=True)
            amounts.append(self.number(line, "line_extension_amount", part))
            item = line.get("item")
            if not isinstance(item, dict) or not item.get("name"):
                self.add(path(part, "item", "name"), "is required")
            price = line.get("price")
            if not isinstance(price, dict):
                self.add(path(part, "price"), "is required")
            else:
                self.number(price, "price_amount", part, "price")
                self.number(price, "base_quantity", part, "price", required=False, positive=True)
        return amounts

    def tax_totals(self):
        totals = self.body.get("tax_total")
        if not isinstance(totals, list) or not totals:
            self.add(path("tax_total"), "is required")
            return None
        out = []
        for i, total in enumerate(totals):
            part = f"tax_total[{i}]"
            if not isinstance(total, dict):
                self.add(path(part), "must be an object")
                continue
            amount = self.number(total, "tax_amount", part)
            subtotals = total.get("tax_subtotal")
            if not isinstance(subtotals, list) or not subtotals:
                self.add(path(part, "tax_subtotal"), "is required")
                continue
            subs = []
            for j, sub in enumerate(subtotals):
                spart = f"tax_subtotal[{j}]"
                if not isinstance(sub, dict):
                    self.add(path(part, spart), "must be an object")
                    continue
                taxable = self.number(sub, "taxable_amount", part, spart)
                tax = self.number(sub, "tax_amount", part, spart)
                category = sub.get("tax_category")
                if not isinstance(category, dict):
                    self.add(path(part, spart, "tax_category"), "is required")
                    continue
                if category.get("id") not in codes.TAX_CATEGORIES:
                    self.add(path(part, spart, "tax_category", "id"), f"must be a valid tax category, {RESOURCE_HINT}")
                percent = self.number(category, "percent", part, spart, "tax_category")
                subs.append((taxable, tax, percent))
            out.append((amount, subs))
        return out

    def monetary_total(self):
        lmt = self.body.get("legal_monetary_total")
        if not isinstance(lmt, dict):
            self.add(path("legal_monetary_total"), "is required")
            return None
        values = {}
        for key in ("line_extension_amount", "tax_exclusive_amount", "tax_inclusive_amount", "payable_amount"):
            values[key] = self.number(lmt, key, "legal_monetary_total")
        for key in ("allowance_total_amount", "charge_total_amount", "prepaid_amount", "payable_rounding_amount"):
            values[key] = self.number(lmt, key, "legal_monetary_total", required=False)
        return values

    def totals(self, lines, taxes, lmt):
        def mismatch(field_parts, expected):
            self.add(path(*field_parts), f"must equal {expected} recomputed from the invoice")

        line_sum = sum(lines, Decimal(0))
        if q(lmt["line_extension_amount"]) != q(line_sum):
            mismatch(("legal_monetary_total", "line_extension_amount"), q(line_sum))
        allowances = sum((Decimal(ac["amount"]) for ac in self.body.get("allowance_charge") or []
                          if not ac["charge_indicator"]), Decimal(0))
        charges = sum((Decimal(ac["amount"]) for ac in self.body.get("allowance_charge") or []
                       if ac["charge_indicator"]), Decimal(0))
        if lmt["allowance_total_amount"] is not None and q(lmt["allowance_total_amount"]) != q(allowances):
            mismatch(("legal_monetary_total", "allowance_total_amount"), q(allowances))
        if lmt["charge_total_amount"] is not None and q(lmt["charge_total_amount"]) != q(charges):
            mismatch(("legal_monetary_total", "charge_total_amount"), q(charges))
        tax_exclusive = q(line_sum - allowances + charges)
        if q(lmt["tax_exclusive_amount"]) != tax_exclusive:
            mismatch(("legal_monetary_total", "tax_exclusive_amount"), tax_exclusive)
        tax_sum = Decimal(0)
        for i, (amount, subs) in enumerate(taxes):
            sub_sum = sum((tax for _, tax, _ in subs), Decimal(0))
            if q(amount) != q(sub_sum):
                mismatch((f"tax_total[{i}]", "tax_amount"), q(sub_sum))
            for j, (taxable, tax, percent) in enumerate(subs):
                expected = taxable * percent / 100
                if abs(tax - expected) > CENT:
                    mismatch((f"tax_total[{i}]", f"tax_subtotal[{j}]", "tax_amount"), q(expected))
            if len(taxes) == 1:
                taxable_sum = q(sum((taxable for taxable, _, _ in subs), Decimal(0)))
                if taxable_sum != tax_exclusive:
                    self.add(path(f"tax_total[{i}]", "tax_subtotal"),
                             f"taxable amounts add up to {taxable_sum}, not the tax exclusive amount {tax_exclusive}")
            tax_sum += amount
        tax_inclusive = q(lmt["tax_exclusive_amount"] + tax_sum)
        if q(lmt["tax_inclusive_amount"]) != tax_inclusive:
            mismatch(("legal_monetary_total", "tax_inclusive_amount"), tax_inclusive)
        payable = q(lmt["tax_inclusive_amount"] - (lmt["prepaid_amount"] or 0) + (lmt["payable_rounding_amount"] or 0))
        if q(lmt["payable_amount"]) != payable:
            mismatch(("legal_monetary_total", "payable_amount"), payable)


def check_invoice(body, business) -> list[Violation]:
    """Every problem with `body`; `business` is the sandbox business it names
    (None when business_id itself failed, which the caller reports)."""
    if not isinstance(body, dict):
        return [Violation(f"{codes.FIELD_PATH_ROOT}.invoice", "must be a JSON object")]
    return _Checker(body, business).run()

"""Business rules of a canonical invoice, each with an id.

Owns `RuleViolation`, `InvoiceRuleError` and `validate_canonical`. Rule ids are
`TP-nn` (TaxPoynt's, listed in `RULES` and in docs/canonical-invoice.md); where
EN 16931 has the same rule its BR id is named in the message. `TP-00` is a
problem with the JSON shape itself (`canonical.canonical_from_dict`). The UBL
XSD and the EN 16931 schematron add their own ids (`XSD`, `BR-…`) through
`invoicing.ubl.validator`.

These rules run before any document is built, so a caller learns every
problem of its input at once and in canonical terms (paths such as
`lines[2].quantity`) rather than as XPath locations.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from decimal import Decimal

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from invoicing import canonical as c
from taxpoynt.errors import ApplicationError


@dataclass(frozen=True)
class RuleViolation:
    rule: str
    message: str
    path: str

    def as_dict(self) -> dict:
        return asdict(self)


class InvoiceRuleError(ApplicationError):
    """An invoice breaks one or more rules; `.violations` lists every one."""

    def __init__(self, violations: list[RuleViolation]):
        self.violations = list(violations)
        summary = "; ".join(f"{v.rule} {v.path}: {v.message}" for v in self.violations[:5])
        more = f" (+{len(self.violations) - 5} more)" if len(self.violations) > 5 else ""
        super().__init__(f"invoice is invalid: {summary}{more}",
                         extra={"violations": [v.as_dict() for v in self.violations]}, code="invoice_invalid")


# id -> (EN 16931 rule it mirrors or "", what it says). Shown in the docs.
RULES = {
    "TP-00": ("", "The JSON form matches the canonical invoice schema."),
    "TP-01": ("BR-CL-04", "The document currency is an ISO 4217 code."),
    "TP-02": ("BR-CO-26", "The supplier has a TIN of 5 to 20 characters."),
    "TP-03": ("", "A B2B/B2G customer has a TIN of 5 to 20 characters (so does any customer TIN given)."),
    "TP-04": ("", "A telephone number starts with '+' followed by digits."),
    "TP-05": ("BR-CL-17", "The tax category is STANDARD_VAT, ZERO_VAT or EXEMPTED."),
    "TP-06": ("BR-S-05", "The tax rate is the category's rate: STANDARD_VAT 7.5, ZERO_VAT 0, EXEMPTED 0."),
    "TP-07": ("BR-E-10", "An EXEMPTED line or document allowance/charge gives an exemption reason."),
    "TP-08": ("", "A line quantity is not zero."),
    "TP-09": ("BR-27", "A unit price is not negative."),
    "TP-10": ("BR-55", "A credit note cites the original invoice: number, IRN and issue date."),
    "TP-11": ("BR-16", "The invoice has at least one line."),
    "TP-12": ("BR-DEC-01", "An allowance or charge amount is not negative and has at most 2 decimals."),
    "TP-13": ("BR-06", "The supplier has a name; a B2B/B2G customer has a name (BR-07)."),
    "TP-14": ("BR-CL-14", "A country is an ISO 3166-1 alpha-2 code, e.g. NG."),
    "TP-15": ("BR-61", "Credit transfer payment means (30, 58) give the payee account."),
    "TP-16": ("", "An email address is well formed."),
    "TP-17": ("BR-25", "A line has a description (the item name)."),
    "TP-18": ("", "The document currency is NGN: other currencies need an exchange rate to NGN, "
                  "which FIRS requires as tax currency and the canonical invoice does not carry."),
    "TP-19": ("", "The due date is not before the issue date; a credit note's original invoice "
                  "is not dated after the credit note."),
    "TP-20": ("BR-CL-16", "A payment means code is a UNCL4461 code (digits, or ZZZ)."),
    "TP-21": ("", "The supplier and a B2B/B2G customer give an email address (FIRS: \"now mandatory\")."),
}

TIN_MIN, TIN_MAX = 5, 20
_TELEPHONE = re.compile(r"^\+[0-9][0-9 ]{3,19}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PAYMENT_MEANS = re.compile(r"^([0-9]{1,2}|ZZZ)$")
CREDIT_TRANSFER_CODES = ("30", "58")
TAX_CURRENCY = "NGN"


def _is_currency(code: str) -> bool:
    from iso4217 import Currency

    try:
        Currency(code)
    except ValueError:
        return False
    return True


def _money_ok(value: Decimal) -> bool:
    return value >= 0 and value.as_tuple().exponent >= -2


class _Check:
    def __init__(self):
        self.violations: list[RuleViolation] = []

    def fail(self, rule: str, path: str, message: str) -> None:
        en = RULES[rule][0]
        self.violations.append(RuleViolation(rule=rule, message=f"{message} ({en})" if en else message, path=path))


def _check_party(ck: _Check, party: c.Party, path: str, *, tin_required: bool, name_required: bool,
                 email_required: bool) -> None:
    tin = party.tin.strip()
    rule = "TP-02" if path == "supplier" else "TP-03"
    if tin_required and not tin:
        ck.fail(rule, f"{path}.tin", "a TIN is required")
    elif tin and not TIN_MIN <= len(tin) <= TIN_MAX:
        ck.fail(rule, f"{path}.tin", f"the TIN must have {TIN_MIN} to {TIN_MAX} characters, not {len(tin)}")
    if name_required and not party.name.strip():
        ck.fail("TP-13", f"{path}.name", "a name is required")
    if party.telephone and not _TELEPHONE.match(party.telephone):
        ck.fail("TP-04", f"{path}.telephone", f"{party.telephone!r} must start with '+' followed by digits")
    if email_required and not party.email.strip():
        ck.fail("TP-21", f"{path}.email", "an email address is required by FIRS")
    elif party.email:
        try:
            validate_email(party.email)
        except ValidationError:
            ck.fail("TP-16", f"{path}.email", f"{party.email!r} is not an email address")
    if not (_COUNTRY.match(party.country or "") and pycountry.countries.get(alpha_2=party.country)):
        ck.fail("TP-14", f"{path}.country", f"{party.country!r} is not an ISO 3166-1 alpha-2 code")


def _check_tax(ck: _Check, path: str, category: str, rate: Decimal, exemption_reason: str) -> None:
    if category not in c.CATEGORY_RATES:
        ck.fail("TP-05", f"{path}.tax_category",
                f"{category!r} is not one of {', '.join(c.CATEGORY_RATES)}")
        return
    if rate != c.CATEGORY_RATES[category]:
        ck.fail("TP-06", f"{path}.tax_rate", f"{category} is charged at {c.CATEGORY_RATES[category]} %, not {rate}")
    if category == c.EXEMPTED and not exemption_reason.strip():
        ck.fail("TP-07", f"{path}.exemption_reason", "an EXEMPTED amount needs an exemption reason")


def _check_amount(ck: _Check, path: str, amount: Decimal) -> None:
    if not _money_ok(amount):
        ck.fail("TP-12", path, f"{amount} must be ≥ 0 with at most 2 decimals")


def validate_canonical(inv: c.CanonicalInvoice) -> list[RuleViolation]:
    """Every business rule the invoice breaks (empty when valid)."""
    ck = _Check()
    if not _is_currency(inv.currency):
        ck.fail("TP-01", "currency", f"{inv.currency!r} is not an ISO 4217 currency code")
    elif inv.currency != TAX_CURRENCY:
        ck.fail("TP-18", "currency", f"{inv.currency} invoices need an exchange rate to {TAX_CURRENCY}, "
                                     "which is not supported yet")

    _check_party(ck, inv.supplier, "supplier", tin_required=True, name_required=True, email_required=True)
    if inv.customer is not None:
        _check_party(ck, inv.customer, "customer", tin_required=inv.is_b2b, name_required=inv.is_b2b,
                     email_required=inv.is_b2b)
    elif inv.is_b2b:
        ck.fail("TP-03", "customer", f"a {inv.invoice_kind} invoice needs a customer with a TIN")

    if not inv.lines:
        ck.fail("TP-11", "lines", "at least one line is required")
    for i, line in enumerate(inv.lines):
        path = f"lines[{i}]"
        if not line.description.strip():
            ck.fail("TP-17", f"{path}.description", "a description is required")
        if line.quantity == 0:
            ck.fail("TP-08", f"{path}.quantity", "the quantity must not be zero")
        if line.unit_price < 0:
            ck.fail("TP-09", f"{path}.unit_price", f"the unit price {line.unit_price} must not be negative")
        _check_tax(ck, path, line.tax_category, line.tax_rate, line.exemption_reason)
        for j, ac in enumerate(line.allowance_charges):
            _check_amount(ck, f"{path}.allowance_charges[{j}].amount", ac.amount)

    for i, ac in enumerate(inv.allowance_charges):
        path = f"allowance_charges[{i}]"
        _check_amount(ck, f"{path}.amount", ac.amount)
        _check_tax(ck, path, ac.tax_category, ac.tax_rate, ac.exemption_reason)

    for i, pm in enumerate(inv.payment_means):
        if not _PAYMENT_MEANS.match(pm.code):
            ck.fail("TP-20", f"payment_means[{i}].code", f"{pm.code!r} is not a UNCL4461 payment means code")
        elif pm.code in CREDIT_TRANSFER_CODES and not pm.account_id.strip():
            ck.fail("TP-15", f"payment_means[{i}].account_id", f"payment means {pm.code} needs the payee account")

    if inv.due_date and inv.issue_date and inv.due_date < inv.issue_date:
        ck.fail("TP-19", "due_date", f"the due date {inv.due_date} is before the issue date {inv.issue_date}")

    if inv.kind == c.CREDIT_NOTE:
        ref = inv.billing_reference
        if ref is None:
            ck.fail("TP-10", "billing_reference", "a credit note must cite the original invoice")
        else:
            if not ref.number.strip():
                ck.fail("TP-10", "billing_reference.number", "the original invoice number is required")
            if not ref.irn.strip():
                ck.fail("TP-10", "billing_reference.irn", "the original invoice IRN is required")
            if ref.issue_date is None:
                ck.fail("TP-10", "billing_reference.issue_date", "the original invoice issue date is required")
            elif inv.issue_date and ref.issue_date > inv.issue_date:
                ck.fail("TP-19", "billing_reference.issue_date",
                        f"the original invoice ({ref.issue_date}) is dated after this credit note ({inv.issue_date})")
    return ck.violations

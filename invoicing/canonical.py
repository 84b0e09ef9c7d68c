"""The canonical invoice: the one shape every source (CRM deal, POS sale, ERP
invoice) is mapped to, and every format (UBL 2.1, FIRS JSON) is built from.

Money and quantities are `Decimal`, never float. Totals are not stored here:
they are computed by `invoicing.tax.compute_totals` from the lines, so they can
never disagree with them. The JSON form is documented in
`docs/canonical-invoice.md`.
"""
from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"

# FIRS tax category ids (FIRS.md §5) and their UNCL5305 codes for UBL.
STANDARD_VAT = "STANDARD_VAT"
ZERO_VAT = "ZERO_VAT"
EXEMPTED = "EXEMPTED"
STANDARD_VAT_RATE = Decimal("7.5")

# The rate each FIRS category must carry (FIRS.md §5).
CATEGORY_RATES = {STANDARD_VAT: STANDARD_VAT_RATE, ZERO_VAT: Decimal("0"), EXEMPTED: Decimal("0")}

B2B = "B2B"
B2G = "B2G"
B2C = "B2C"
INVOICE_KINDS = (B2B, B2G, B2C)


@dataclass
class Party:
    """A supplier or customer. `tin` is required for B2B buyers and suppliers."""

    name: str
    tin: str = ""
    email: str = ""
    telephone: str = ""
    business_description: str = ""
    street_name: str = ""
    city_name: str = ""
    postal_zone: str = ""
    country: str = "NG"


@dataclass
class AllowanceCharge:
    """A discount (`charge_indicator=False`) or a charge such as a tip or a
    service charge (`charge_indicator=True`), on a line or on the document."""

    charge_indicator: bool
    amount: Decimal
    reason: str = ""
    # Document-level ones carry their own tax category (EN 16931 BG-20/BG-21).
    tax_category: str = STANDARD_VAT
    tax_rate: Decimal = STANDARD_VAT_RATE
    exemption_reason: str = ""  # required when tax_category is EXEMPTED


@dataclass
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_category: str = STANDARD_VAT
    tax_rate: Decimal = STANDARD_VAT_RATE
    item_code: str = ""
    classification_code: str = ""  # HS code for goods, ISIC 4-digit code for services
    unit_code: str = "EA"  # UN/ECE rec 20
    allowance_charges: list[AllowanceCharge] = field(default_factory=list)
    exemption_reason: str = ""  # required for EXEMPTED


@dataclass
class PaymentMeans:
    code: str  # UNCL4461, e.g. "10" cash, "48" card, "30" credit transfer
    due_date: datetime.date | None = None
    account_id: str = ""  # payee account; required for credit transfers "30"/"58" (BR-61)


@dataclass
class SourceRef:
    """Where the document came from; (system, type, id) is unique per org."""

    system: str  # e.g. "hubspot", "square", "manual"
    type: str  # e.g. "deal", "order", "refund"
    id: str


@dataclass
class BillingReference:
    """The original invoice a credit note corrects."""

    number: str
    irn: str
    issue_date: datetime.date


@dataclass
class SourceFigures:
    """The source system's own totals, kept beside ours and compared."""

    tax_amount: Decimal | None = None
    payable_amount: Decimal | None = None


@dataclass
class CanonicalInvoice:
    kind: str  # INVOICE or CREDIT_NOTE
    issue_date: datetime.date
    currency: str
    supplier: Party
    customer: Party | None  # None: B2C walk-in customer
    lines: list[Line]
    source: SourceRef
    allowance_charges: list[AllowanceCharge] = field(default_factory=list)
    payment_means: list[PaymentMeans] = field(default_factory=list)
    due_date: datetime.date | None = None
    issue_time: datetime.time | None = None
    note: str = ""
    buyer_reference: str = ""
    payment_terms: str = ""
    # FIRS `invoice_kind` (B2B, B2G, B2C); "" means inferred from the customer's TIN.
    invoice_kind: str = ""
    billing_reference: BillingReference | None = None
    source_figures: SourceFigures = field(default_factory=SourceFigures)
    # Filled when the invoice is frozen: the gap-free number and the IRN.
    number: str = ""
    irn: str = ""

    @property
    def is_b2b(self) -> bool:
        """B2B or B2G: needs clearance and a customer TIN (FIRS.md §6)."""
        if self.invoice_kind:
            return self.invoice_kind in (B2B, B2G)
        return bool(self.customer and self.customer.tin)


# --- JSON form -------------------------------------------------------------
# The JSON Schema of the canonical invoice's JSON form. docs/canonical-invoice.md
# shows this same schema (a test keeps the two equal). Business rules (TINs,
# categories, rates …) are not here: they are `invoicing.validation` rules with ids.

_DECIMAL = {"type": ["string", "number"], "pattern": r"^[+-]?(\d+(\.\d*)?|\.\d+)$"}
_DATE = {"type": "string", "format": "date"}
_STR = {"type": "string"}

CANONICAL_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "TaxPoynt canonical invoice",
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "issue_date", "currency", "supplier", "lines", "source"],
    "properties": {
        "kind": {"enum": [INVOICE, CREDIT_NOTE]},
        "number": _STR,
        "irn": _STR,
        "issue_date": _DATE,
        "issue_time": {"anyOf": [{"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2})?$"}, {"type": "null"}]},
        "due_date": {"anyOf": [_DATE, {"type": "null"}]},
        "currency": _STR,
        "invoice_kind": {"enum": ["", *INVOICE_KINDS]},
        "supplier": {"$ref": "#/$defs/party"},
        "customer": {"anyOf": [{"$ref": "#/$defs/party"}, {"type": "null"}]},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
        "allowance_charges": {"type": "array", "items": {"$ref": "#/$defs/document_allowance_charge"}},
        "payment_means": {"type": "array", "items": {"$ref": "#/$defs/payment_means"}},
        "note": _STR,
        "buyer_reference": _STR,
        "payment_terms": _STR,
        "billing_reference": {"anyOf": [{"$ref": "#/$defs/billing_reference"}, {"type": "null"}]},
        "source": {"$ref": "#/$defs/source"},
        "source_figures": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "tax_amount": {"anyOf": [_DECIMAL, {"type": "null"}]},
                "payable_amount": {"anyOf": [_DECIMAL, {"type": "null"}]},
            },
        },
    },
    "$defs": {
        "party": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {k: _STR for k in (
                "name", "tin", "email", "telephone", "business_description",
                "street_name", "city_name", "postal_zone", "country")},
        },
        "line_allowance_charge": {
            "type": "object",
            "additionalProperties": False,
            "required": ["charge_indicator", "amount"],
            "properties": {"charge_indicator": {"type": "boolean"}, "amount": _DECIMAL, "reason": _STR},
        },
        "document_allowance_charge": {
            "type": "object",
            "additionalProperties": False,
            "required": ["charge_indicator", "amount"],
            "properties": {
                "charge_indicator": {"type": "boolean"}, "amount": _DECIMAL, "reason": _STR,
                "tax_category": _STR, "tax_rate": _DECIMAL, "exemption_reason": _STR,
            },
        },
        "line": {
            "type": "object",
            "additionalProperties": False,
            "required": ["description", "quantity", "unit_price"],
            "properties": {
                "description": _STR, "quantity": _DECIMAL, "unit_price": _DECIMAL,
                "tax_category": _STR, "tax_rate": _DECIMAL, "item_code": _STR,
                "classification_code": _STR, "unit_code": _STR, "exemption_reason": _STR,
                "allowance_charges": {"type": "array", "items": {"$ref": "#/$defs/line_allowance_charge"}},
            },
        },
        "payment_means": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code"],
            "properties": {"code": _STR, "due_date": {"anyOf": [_DATE, {"type": "null"}]}, "account_id": _STR},
        },
        "billing_reference": {
            "type": "object",
            "additionalProperties": False,
            "required": ["number", "irn", "issue_date"],
            "properties": {"number": _STR, "irn": _STR, "issue_date": _DATE},
        },
        "source": {
            "type": "object",
            "additionalProperties": False,
            "required": ["system", "type", "id"],
            "properties": {"system": _STR, "type": _STR, "id": _STR},
        },
    },
}

_validator = None


def _schema_validator():
    global _validator
    if _validator is None:
        from jsonschema import Draft202012Validator, FormatChecker

        _validator = Draft202012Validator(CANONICAL_SCHEMA, format_checker=FormatChecker())
    return _validator


def _dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _schema_problems(data) -> list:
    from invoicing.validation import RuleViolation

    problems = []
    for error in sorted(_schema_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        if error.validator == "required":
            # Point at the missing property itself: lines[2].quantity, not lines[2].
            missing = [p for p in error.validator_value if p not in error.instance and repr(p) in error.message]
            path += missing[:1]
        problems.append(RuleViolation(rule="TP-00", message=error.message, path=_dotted(path)))
    return problems


class _Reader:
    """Turns schema-valid JSON values into Python ones, collecting problems
    (floats for money, impossible dates) instead of stopping at the first."""

    def __init__(self):
        self.problems = []

    def problem(self, path: str, message: str) -> None:
        from invoicing.validation import RuleViolation

        self.problems.append(RuleViolation(rule="TP-00", message=message, path=path))

    def decimal(self, value, path: str) -> Decimal:
        if isinstance(value, float):
            self.problem(path, "a float is not accepted for money or quantities: send the amount as a string")
            return Decimal(0)
        return Decimal(str(value).strip())

    def date(self, value, path: str) -> datetime.date | None:
        if value is None:
            return None
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.problem(path, f"{value!r} is not a date (YYYY-MM-DD)")
            return None

    def time(self, value, path: str) -> datetime.time | None:
        if value is None:
            return None
        try:
            return datetime.time.fromisoformat(value)
        except ValueError:
            self.problem(path, f"{value!r} is not a time (HH:MM:SS)")
            return None

    def party(self, data: dict | None) -> Party | None:
        return None if data is None else Party(**data)

    def allowance_charge(self, data: dict, path: str) -> AllowanceCharge:
        fields = dict(data)
        fields["amount"] = self.decimal(data["amount"], f"{path}.amount")
        if "tax_rate" in data:
            fields["tax_rate"] = self.decimal(data["tax_rate"], f"{path}.tax_rate")
        return AllowanceCharge(**fields)

    def line(self, data: dict, path: str) -> Line:
        fields = dict(data)
        for name in ("quantity", "unit_price", "tax_rate"):
            if name in data:
                fields[name] = self.decimal(data[name], f"{path}.{name}")
        fields["allowance_charges"] = [
            self.allowance_charge(ac, f"{path}.allowance_charges[{i}]")
            for i, ac in enumerate(data.get("allowance_charges", []))]
        return Line(**fields)


def canonical_from_dict(data: dict, *, stored: bool = False) -> CanonicalInvoice:
    """Parse the JSON form (docs/canonical-invoice.md). Raises InvoiceRuleError
    listing every problem, each with a dotted path such as `lines[2].quantity`.
    Business rules are checked separately by `validation.validate_canonical`.

    `stored=True` is for a dict `canonical_to_dict` wrote (an invoice's own
    column): the JSON Schema pass, ~5 ms a document, is skipped; every value
    is still parsed and checked by the reader."""
    from invoicing.validation import InvoiceRuleError, RuleViolation

    if not isinstance(data, dict):
        raise InvoiceRuleError([RuleViolation(rule="TP-00", message="the invoice must be a JSON object", path="")])
    problems = [] if stored else _schema_problems(data)
    if problems:
        raise InvoiceRuleError(problems)
    r = _Reader()
    sf = data.get("source_figures") or {}
    bref = data.get("billing_reference")
    inv = CanonicalInvoice(
        kind=data["kind"],
        issue_date=r.date(data["issue_date"], "issue_date"),
        issue_time=r.time(data.get("issue_time"), "issue_time"),
        due_date=r.date(data.get("due_date"), "due_date"),
        currency=data["currency"],
        invoice_kind=data.get("invoice_kind", ""),
        supplier=r.party(data["supplier"]),
        customer=r.party(data.get("customer")),
        lines=[r.line(line, f"lines[{i}]") for i, line in enumerate(data["lines"])],
        allowance_charges=[r.allowance_charge(ac, f"allowance_charges[{i}]")
                           for i, ac in enumerate(data.get("allowance_charges", []))],
        payment_means=[PaymentMeans(code=pm["code"], due_date=r.date(pm.get("due_date"), f"payment_means[{i}].due_date"),
                                    account_id=pm.get("account_id", ""))
                       for i, pm in enumerate(data.get("payment_means", []))],
        note=data.get("note", ""),
        buyer_reference=data.get("buyer_reference", ""),
        payment_terms=data.get("payment_terms", ""),
        billing_reference=None if bref is None else BillingReference(
            number=bref["number"], irn=bref["irn"], issue_date=r.date(bref["issue_date"], "billing_reference.issue_date")),
        source=SourceRef(**data["source"]),
        source_figures=SourceFigures(**{
            k: (None if sf.get(k) is None else r.decimal(sf[k], f"source_figures.{k}"))
            for k in ("tax_amount", "payable_amount")}),
        number=data.get("number", ""),
        irn=data.get("irn", ""),
    )
    if r.problems:
        raise InvoiceRuleError(r.problems)
    return inv


def _jsonable(value):
    """The JSON form of a canonical value, dataclasses walked field by field
    (no `asdict`: its deep copy of every leaf was a third of a batch's
    canonical-to-JSON time)."""
    if is_dataclass(value):
        return {name: _jsonable(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def canonical_to_dict(inv: CanonicalInvoice) -> dict:
    """The JSON form: Decimals as strings, dates and times ISO 8601.
    `canonical_from_dict(canonical_to_dict(inv)) == inv`."""
    data = _jsonable(inv)
    for line in data["lines"]:
        for ac in line["allowance_charges"]:
            # A line allowance/charge is taxed as its line: its own tax fields mean nothing.
            for name in _LINE_AC_TAX_FIELDS:
                ac.pop(name, None)
    return data


_LINE_AC_TAX_FIELDS = ("tax_category", "tax_rate", "exemption_reason")


@functools.cache
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))

"""The canonical invoice: the one shape every source (CRM deal, POS sale, ERP
invoice) is mapped to, and every format (UBL 2.1, FIRS JSON) is built from.

Money and quantities are `Decimal`, never float. Totals are not stored here:
they are computed by `invoicing.tax.compute_totals` from the lines, so they can
never disagree with them. The JSON form is documented in
`docs/canonical-invoice.md`.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
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

"""Tax and totals of a canonical invoice, computed exactly as EN 16931 says.

Owns the money arithmetic: every format (UBL, FIRS JSON) and the Invoice row
take their figures from `compute_totals`, never from the source system. The
source's own figures are only compared (`compare_source_figures`), never used.

Rules (EN 16931-1 §6.4 and the BR-CO rules the schematron checks):

- line net (BT-131) = round2(quantity × unit price − line allowances + line charges)
- line extension amount (BT-106) = Σ line nets (BR-CO-10)
- allowance / charge totals (BT-107/BT-108) = Σ document allowances / charges
- tax exclusive (BT-109) = line extension − allowances + charges (BR-CO-13)
- per (category, rate): taxable base = Σ line nets + charges − allowances of
  that category, and its VAT is rounded ONCE on that base (BR-CO-17), never
  per line
- tax amount (BT-110) = Σ category VAT (BR-CO-14)
- tax inclusive (BT-112) = tax exclusive + tax amount (BR-CO-15)
- payable (BT-115) = tax inclusive (no prepaid amount, no rounding amount)

Rounding is ROUND_HALF_UP (half away from zero) to 2 decimal places.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from invoicing.canonical import CanonicalInvoice, Line

CENT = Decimal("0.01")
# A source figure differing from ours by more than this is a mismatch.
SOURCE_TOLERANCE = Decimal("0.01")
_HUNDRED = Decimal(100)


def round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxSubtotal:
    category: str  # FIRS id, e.g. STANDARD_VAT
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal
    exemption_reason: str = ""


@dataclass
class Totals:
    line_net_amounts: list[Decimal]
    line_allowance_amounts: list[Decimal]
    line_charge_amounts: list[Decimal]
    line_extension_amount: Decimal
    allowance_total_amount: Decimal
    charge_total_amount: Decimal
    tax_exclusive_amount: Decimal
    tax_amount: Decimal
    tax_inclusive_amount: Decimal
    payable_amount: Decimal
    tax_subtotals: list[TaxSubtotal] = field(default_factory=list)


def line_allowance_charge_sums(line: Line) -> tuple[Decimal, Decimal]:
    allowances = sum((ac.amount for ac in line.allowance_charges if not ac.charge_indicator), Decimal(0))
    charges = sum((ac.amount for ac in line.allowance_charges if ac.charge_indicator), Decimal(0))
    return allowances, charges


def line_net_amount(line: Line) -> Decimal:
    allowances, charges = line_allowance_charge_sums(line)
    return round2(line.quantity * line.unit_price - allowances + charges)


def compute_totals(inv: CanonicalInvoice) -> Totals:
    nets, line_allowances, line_charges = [], [], []
    # (category, rate) -> [taxable base, exemption reasons in first-seen order, rate as first written]
    groups: dict[tuple[str, Decimal], list] = {}

    def group(category: str, rate: Decimal) -> list:
        # Keyed on the normalised rate so 7.5 and 7.50 are one group (one TaxSubtotal per rate).
        return groups.setdefault((category, rate.normalize()), [Decimal(0), [], rate])

    def add_reason(g: list, reason: str) -> None:
        if reason and reason not in g[1]:
            g[1].append(reason)

    for line in inv.lines:
        allowances, charges = line_allowance_charge_sums(line)
        net = round2(line.quantity * line.unit_price - allowances + charges)
        nets.append(net)
        line_allowances.append(round2(allowances))
        line_charges.append(round2(charges))
        g = group(line.tax_category, line.tax_rate)
        g[0] += net
        add_reason(g, line.exemption_reason)

    allowance_total = Decimal(0)
    charge_total = Decimal(0)
    for ac in inv.allowance_charges:
        amount = round2(ac.amount)
        g = group(ac.tax_category, ac.tax_rate)
        if ac.charge_indicator:
            charge_total += amount
            g[0] += amount
        else:
            allowance_total += amount
            g[0] -= amount
        add_reason(g, ac.exemption_reason)

    line_extension = sum(nets, Decimal(0))
    subtotals = []
    for (category, _), (base, reasons, rate) in groups.items():
        subtotals.append(TaxSubtotal(
            category=category, rate=rate, taxable_amount=round2(base),
            tax_amount=round2(base * rate / _HUNDRED), exemption_reason="; ".join(reasons)))
    tax_amount = sum((s.tax_amount for s in subtotals), Decimal(0))
    tax_exclusive = line_extension - allowance_total + charge_total
    tax_inclusive = tax_exclusive + tax_amount
    return Totals(
        line_net_amounts=nets,
        line_allowance_amounts=line_allowances,
        line_charge_amounts=line_charges,
        line_extension_amount=round2(line_extension),
        allowance_total_amount=round2(allowance_total),
        charge_total_amount=round2(charge_total),
        tax_exclusive_amount=round2(tax_exclusive),
        tax_amount=round2(tax_amount),
        tax_inclusive_amount=round2(tax_inclusive),
        payable_amount=round2(tax_inclusive),
        tax_subtotals=subtotals,
    )


def compare_source_figures(inv: CanonicalInvoice, totals: Totals) -> dict | None:
    """Compare the source system's own figures with ours.

    Returns None when every figure the source gave agrees within 0.01, else
    {"ours": {...}, "source": {...}, "difference": {...}} with every figure the
    source gave (as strings, JSON-safe). Both figures are kept; neither replaces
    the other: ours are what is invoiced, the mismatch is flagged for review.
    """
    ours, source, difference = {}, {}, {}
    mismatch = False
    for name in ("tax_amount", "payable_amount"):
        theirs = getattr(inv.source_figures, name)
        if theirs is None:
            continue
        mine = getattr(totals, name)
        diff = theirs - mine
        ours[name], source[name], difference[name] = str(mine), str(theirs), str(diff)
        if abs(diff) > SOURCE_TOLERANCE:
            mismatch = True
    if not mismatch:
        return None
    return {"ours": ours, "source": source, "difference": difference}

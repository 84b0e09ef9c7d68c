"""Hand-built FIRS invoice bodies (FIRS.md §4) for the sandbox and client tests.

Deliberately independent of `invoicing.firs.payload` (another piece's builder):
these tests pin what the sandbox accepts, not what our builder emits.
"""
import copy
import datetime
from decimal import ROUND_HALF_UP, Decimal

from invoicing.firs.client import json_bytes

CENT = Decimal("0.01")

DEFAULT_LINES = (
    # (name, quantity, unit price, tax category, percent)
    ("Cement 50kg bag", Decimal("2"), Decimal("1500.00"), "STANDARD_VAT", Decimal("7.5")),
    ("Delivery", Decimal("1"), Decimal("250.50"), "STANDARD_VAT", Decimal("7.5")),
)


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def party(name, tin, email, *, telephone="+2348012345678", country="NG"):
    return {
        "party_name": name,
        "tin": tin,
        "email": email,
        "telephone": telephone,
        "business_description": "building materials",
        "postal_address": {"street_name": "32, Owonikoko Street", "city_name": "Gwarinpa", "postal_zone": "900108",
                           "country": country},
    }


def sample_invoice(business, *, invoice_number="INV001", issue_date=datetime.date(2025, 1, 15),
                   invoice_type_code="381", lines=DEFAULT_LINES, allowance_charge=(), customer_tin="TIN-000001"):
    """A body whose every total agrees with its lines (to the cent)."""
    invoice_lines, subtotals = [], {}
    for name, quantity, price, category, percent in lines:
        amount = money(quantity * price)
        invoice_lines.append({
            "hsn_code": "2523.29",
            "product_category": "Building materials",
            "invoiced_quantity": quantity,
            "line_extension_amount": amount,
            "item": {"name": name, "description": name, "sellers_item_identification": name[:10]},
            "price": {"price_amount": price, "base_quantity": Decimal("1"), "price_unit": "NGN per 1"},
        })
        subtotals.setdefault((category, percent), Decimal(0))
        subtotals[(category, percent)] += amount
    line_total = sum((line["line_extension_amount"] for line in invoice_lines), Decimal(0))
    allowances = sum((Decimal(a["amount"]) for a in allowance_charge if not a["charge_indicator"]), Decimal(0))
    charges = sum((Decimal(a["amount"]) for a in allowance_charge if a["charge_indicator"]), Decimal(0))
    tax_exclusive = money(line_total - allowances + charges)
    if allowances or charges:
        # Document-level allowances/charges here all fall in the first category.
        first = next(iter(subtotals))
        subtotals[first] += charges - allowances
    tax_subtotal = [
        {"taxable_amount": money(taxable), "tax_amount": money(taxable * percent / 100),
         "tax_category": {"id": category, "percent": percent}}
        for (category, percent), taxable in subtotals.items()
    ]
    tax_amount = sum((s["tax_amount"] for s in tax_subtotal), Decimal(0))
    tax_inclusive = tax_exclusive + tax_amount
    return {
        "business_id": business.business_id,
        "irn": f"{invoice_number}-{business.service_id}-{issue_date:%Y%m%d}",
        "issue_date": issue_date.isoformat(),
        "due_date": (issue_date + datetime.timedelta(days=30)).isoformat(),
        "issue_time": "10:15:00",
        "invoice_type_code": invoice_type_code,
        "payment_status": "PENDING",
        "document_currency_code": "NGN",
        "tax_currency_code": "NGN",
        "accounting_supplier_party": party(business.name, business.tin, "billing@supplier.example.ng"),
        "accounting_customer_party": party("Buyer Nigeria Ltd", customer_tin, "ap@buyer.example.ng"),
        "payment_means": [{"payment_means_code": "30", "payment_due_date": (issue_date + datetime.timedelta(days=30)).isoformat()}],
        "allowance_charge": list(allowance_charge),
        "tax_total": [{"tax_amount": tax_amount, "tax_subtotal": tax_subtotal}],
        "legal_monetary_total": {
            "line_extension_amount": line_total,
            "tax_exclusive_amount": tax_exclusive,
            "tax_inclusive_amount": tax_inclusive,
            "payable_amount": tax_inclusive,
        },
        "invoice_line": invoice_lines,
    }


def encode(body) -> bytes:
    """JSON with Decimals written as exact JSON numbers (never through float)."""
    return json_bytes(body)


def modified(body, mutate):
    """A deep copy of `body` after `mutate(copy)`."""
    out = copy.deepcopy(body)
    mutate(out)
    return out

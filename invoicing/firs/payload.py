"""The FIRS MBS invoice payload (FIRS.md §4): the JSON body of
`/invoice/validate` and `/invoice/sign`, built from a canonical invoice and its
totals (the same figures as the UBL).

Amounts are JSON numbers, as in FIRS's samples, written from the Decimal's own
digits (`payload_json`): `107.50` goes out as `107.50`, never
through a float. `build_firs_payload` returns a dict whose amounts are Decimals;
serialise it with `payload_json` (plain `json.dumps` would refuse them, and
converting to float could change them).

Choices where FIRS.md is silent or UNCONFIRMED (kept here, in one place):
- `invoice_type_code` uses FIRS's own list, which departs from UNTDID 1001:
  381 is the commercial invoice and 380 the credit note (FIRS.md §5). The UBL
  document keeps UNTDID codes (`invoicing.ubl.codes.UNTDID_1001`).
- `tax_currency_code` is always NGN (the sandbox requires it; validation rule
  TP-18 keeps documents in NGN until exchange rates are carried).
- Every payload states `invoice_kind` (B2B, B2G or B2C; UNCONFIRMED field, see
  `invoicing.firs.codes`). A B2C sale without a customer is reported with a
  walk-in party: name "Walk-in customer", no TIN and no email (none is
  invented; B2C is reported, not cleared, FIRS.md §6), the supplier's country.
- Line `discount_rate` / `fee_rate` are the line's allowances / charges as a
  percentage of quantity × price (2 decimals; 0 when that is 0), since the
  canonical invoice carries amounts, not rates.
- `price.price_unit` is "<currency> per <base quantity> <unit code>" as in FIRS's samples'
  "NGN per 1", with base_quantity 1.
"""
from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal

from invoicing import canonical as c
from invoicing.firs import codes as firs_codes
from invoicing.tax import Totals
from invoicing.ubl.codes import WALK_IN_CUSTOMER_NAME

# FIRS's invoice type codes are NOT UNTDID 1001: FIRS uses 381 for the
# commercial invoice and 380 for the credit note (FIRS.md §5, COM d/167).
FIRS_INVOICE_TYPE_CODES = {
    c.INVOICE: firs_codes.COMMERCIAL_INVOICE_TYPE,  # "381"
    c.CREDIT_NOTE: firs_codes.CREDIT_NOTE_TYPE,  # "380"
}
TAX_CURRENCY_CODE = "NGN"
BASE_QUANTITY = Decimal(1)
_CENT = Decimal("0.01")


def _rate(part: Decimal, whole: Decimal) -> Decimal:
    if whole == 0:
        return Decimal("0.00")
    return (part / abs(whole) * 100).quantize(_CENT, rounding=ROUND_HALF_UP)


def _party(party: c.Party) -> dict:
    return {
        "party_name": party.name,
        "tin": party.tin,
        "email": party.email,
        "telephone": party.telephone,
        "business_description": party.business_description,
        "postal_address": {
            "street_name": party.street_name,
            "city_name": party.city_name,
            "postal_zone": party.postal_zone,
            "country": party.country,
        },
    }


def walk_in_party(inv: c.CanonicalInvoice) -> c.Party:
    """The customer party of a B2C sale with no (named) buyer."""
    customer = inv.customer
    if customer is None:
        return c.Party(name=WALK_IN_CUSTOMER_NAME, country=inv.supplier.country)
    if not customer.name.strip():
        return c.Party(**{**customer.__dict__, "name": WALK_IN_CUSTOMER_NAME})
    return customer


def invoice_kind(inv: c.CanonicalInvoice) -> str:
    """B2B / B2G / B2C: the canonical's own when set, else B2B when the buyer has a TIN."""
    if inv.invoice_kind:
        return inv.invoice_kind
    return c.B2B if inv.is_b2b else c.B2C


def build_firs_payload(inv: c.CanonicalInvoice, totals: Totals, *, business_id: str) -> dict:
    payload = {
        "business_id": business_id,
        "irn": inv.irn,
        "issue_date": inv.issue_date.isoformat(),
    }
    if inv.due_date:
        payload["due_date"] = inv.due_date.isoformat()
    if inv.issue_time:
        payload["issue_time"] = inv.issue_time.strftime("%H:%M:%S")
    payload["invoice_type_code"] = FIRS_INVOICE_TYPE_CODES[inv.kind]
    payload["invoice_kind"] = invoice_kind(inv)
    payload["payment_status"] = firs_codes.DEFAULT_PAYMENT_STATUS
    if inv.note:
        payload["note"] = inv.note
    payload["document_currency_code"] = inv.currency
    payload["tax_currency_code"] = TAX_CURRENCY_CODE
    if inv.buyer_reference:
        payload["buyer_reference"] = inv.buyer_reference
    if inv.billing_reference is not None:
        payload["billing_reference"] = [{
            "irn": inv.billing_reference.irn,
            "issue_date": inv.billing_reference.issue_date.isoformat(),
        }]
    payload["accounting_supplier_party"] = _party(inv.supplier)
    payload["accounting_customer_party"] = _party(walk_in_party(inv))
    if inv.payment_means:
        payload["payment_means"] = [
            {"payment_means_code": pm.code, **({"payment_due_date": pm.due_date.isoformat()} if pm.due_date else {})}
            for pm in inv.payment_means]
    if inv.payment_terms:
        payload["payment_terms_note"] = inv.payment_terms
    if inv.allowance_charges:
        payload["allowance_charge"] = [
            {"charge_indicator": ac.charge_indicator, "amount": ac.amount.quantize(_CENT)}
            for ac in inv.allowance_charges]
    payload["tax_total"] = [{
        "tax_amount": totals.tax_amount,
        "tax_subtotal": [{
            "taxable_amount": s.taxable_amount,
            "tax_amount": s.tax_amount,
            "tax_category": {"id": s.category, "percent": s.rate},
        } for s in totals.tax_subtotals],
    }]
    payload["legal_monetary_total"] = {
        "line_extension_amount": totals.line_extension_amount,
        "tax_exclusive_amount": totals.tax_exclusive_amount,
        "tax_inclusive_amount": totals.tax_inclusive_amount,
        "payable_amount": totals.payable_amount,
    }
    if inv.allowance_charges:
        payload["legal_monetary_total"]["allowance_total_amount"] = totals.allowance_total_amount
        payload["legal_monetary_total"]["charge_total_amount"] = totals.charge_total_amount
    lines = []
    for line, net, allowance, charge in zip(inv.lines, totals.line_net_amounts,
                                            totals.line_allowance_amounts, totals.line_charge_amounts):
        gross = line.quantity * line.unit_price
        lines.append({
            "hsn_code": line.classification_code,
            # The canonical line has no product category of its own (UNCONFIRMED
            # FIRS list); its description is the closest fact we hold.
            "product_category": line.description,
            "discount_rate": _rate(allowance, gross),
            "discount_amount": allowance,
            "fee_rate": _rate(charge, gross),
            "fee_amount": charge,
            "invoiced_quantity": line.quantity,
            "line_extension_amount": net,
            "item": {
                "name": line.description,
                "description": line.description,
                "sellers_item_identification": line.item_code,
            },
            "price": {
                "price_amount": line.unit_price,
                "base_quantity": BASE_QUANTITY,
                "price_unit": f"{inv.currency} per {BASE_QUANTITY}",
            },
        })
    payload["invoice_line"] = lines
    return payload


# Decimals are swapped for placeholder strings, dumped by the stdlib encoder
# (which cannot emit raw number text), then replaced by their exact digits.
_MARK = "\x00dec:"
_PLACEHOLDER = re.compile(r'"\\u0000dec:(\d+)"')


def _swap(value, found: list):
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        found.append(format(value, "f"))
        return f"{_MARK}{len(found) - 1}"
    if isinstance(value, dict):
        return {k: _swap(v, found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_swap(v, found) for v in value]
    if isinstance(value, str) and "\x00" in value:
        # Would be indistinguishable from a placeholder; NUL has no place in an invoice.
        raise ValueError("a NUL character cannot be sent to FIRS")
    return value


def payload_json(payload: dict) -> bytes:
    """The payload as compact UTF-8 JSON bytes, amounts as exact numbers."""
    numbers: list[str] = []
    text = json.dumps(_swap(payload, numbers), ensure_ascii=False, separators=(",", ":"))
    # json escapes \x00 as \u0000, so each placeholder appears as "\u0000dec:N";
    # real strings never contain NUL (refused in _swap), so none can match.
    text = _PLACEHOLDER.sub(lambda m: numbers[int(m.group(1))], text)
    return text.encode("utf-8")

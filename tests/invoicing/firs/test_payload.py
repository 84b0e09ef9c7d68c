import json
from decimal import Decimal

import pytest

from invoicing import canonical as c
from invoicing.firs import codes as firs_codes
from invoicing.firs.payload import FIRS_INVOICE_TYPE_CODES, build_firs_payload, payload_json
from invoicing.tax import compute_totals
from tests.invoicing.fixtures import invoice

BUSINESS_ID = "3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10"
D = Decimal


def _payload(name="invoice_b2b.json", inv=None):
    inv = inv or invoice(name)
    return build_firs_payload(inv, compute_totals(inv), business_id=BUSINESS_ID)


def test_invoice_header():
    p = _payload()
    assert p["business_id"] == BUSINESS_ID
    assert p["irn"] == "INV000123-F3A3A0CF-20261102"
    assert (p["issue_date"], p["issue_time"], p["due_date"]) == ("2026-11-02", "10:15:00", "2026-12-02")
    assert p["invoice_type_code"] == "381"  # FIRS: 381 = Commercial Invoice
    assert (p["document_currency_code"], p["tax_currency_code"]) == ("NGN", "NGN")
    assert p["payment_status"] == "PENDING"
    assert p["note"] == "Thank you for your business"
    assert "billing_reference" not in p


def test_firs_type_codes_depart_from_untdid():
    assert FIRS_INVOICE_TYPE_CODES == {c.INVOICE: "381", c.CREDIT_NOTE: "380"}
    assert firs_codes.INVOICE_TYPES["381"] == "Commercial Invoice"
    assert firs_codes.INVOICE_TYPES["380"] == "Credit Note"


def test_parties():
    p = _payload()
    assert p["accounting_supplier_party"] == {
        "party_name": "Adaeze Foods Ltd", "tin": "12345678-0001", "email": "billing@adaezefoods.ng",
        "telephone": "+2348012345678", "business_description": "Food processing",
        "postal_address": {"street_name": "12 Broad Street", "city_name": "Lagos", "postal_zone": "100001",
                           "country": "NG"},
    }
    assert p["accounting_customer_party"]["tin"] == "87654321-0001"
    assert p["accounting_customer_party"]["party_name"] == "Chukwu Retail Plc"


def test_b2c_is_reported_with_a_walk_in_party_and_no_invented_tin():
    p = _payload("pos_b2c.json")
    # FIRS.md §4 calls tin and email "now mandatory"; a walk-in buyer has neither and none is
    # invented (B2C is reported, FIRS.md §6): the payload says B2C (invoicing.firs.codes).
    assert p["invoice_kind"] == "B2C"
    assert _payload("invoice_b2b.json")["invoice_kind"] == "B2B"
    assert p["accounting_customer_party"] == {
        "party_name": "Walk-in customer", "tin": "", "email": "", "telephone": "", "business_description": "",
        "postal_address": {"street_name": "", "city_name": "", "postal_zone": "", "country": "NG"},
    }
    inv = invoice("pos_b2c.json")
    inv.customer = c.Party(name="", email="ada@example.ng")
    assert _payload(inv=inv)["accounting_customer_party"]["party_name"] == "Walk-in customer"
    assert _payload(inv=inv)["accounting_customer_party"]["email"] == "ada@example.ng"


def test_tax_total_and_legal_monetary_total():
    p = _payload()
    assert p["tax_total"] == [{
        "tax_amount": D("2850.00"),
        "tax_subtotal": [
            {"taxable_amount": D("38000.00"), "tax_amount": D("2850.00"),
             "tax_category": {"id": "STANDARD_VAT", "percent": D("7.5")}},
            {"taxable_amount": D("3500.00"), "tax_amount": D("0.00"), "tax_category": {"id": "ZERO_VAT", "percent": D("0")}},
            {"taxable_amount": D("17999.98"), "tax_amount": D("0.00"), "tax_category": {"id": "EXEMPTED", "percent": D("0")}},
        ],
    }]
    assert p["legal_monetary_total"] == {
        "line_extension_amount": D("57499.98"), "tax_exclusive_amount": D("59499.98"),
        "tax_inclusive_amount": D("62349.98"), "payable_amount": D("62349.98"),
        "allowance_total_amount": D("0.00"), "charge_total_amount": D("2000.00")}
    assert p["allowance_charge"] == [{"charge_indicator": True, "amount": D("2000.00")}]
    assert p["payment_means"] == [{"payment_means_code": "30", "payment_due_date": "2026-12-02"}]


def test_invoice_lines():
    lines = _payload()["invoice_line"]
    assert len(lines) == 3
    assert lines[0] == {
        "hsn_code": "151110",
        "product_category": "Palm oil 5 L",
        "discount_rate": D("4.00"),  # 1500 of 37500
        "discount_amount": D("1500.00"),
        "fee_rate": D("0.00"),
        "fee_amount": D("0.00"),
        "invoiced_quantity": D("3"),
        "line_extension_amount": D("36000.00"),
        "item": {"name": "Palm oil 5 L", "description": "Palm oil 5 L", "sellers_item_identification": "PO-5L"},
        "price": {"price_amount": D("12500.00"), "base_quantity": D(1), "price_unit": "NGN per 1"},
    }
    pos = _payload("pos_b2c.json")["invoice_line"][0]
    assert (pos["fee_amount"], pos["fee_rate"]) == (D("300.00"), D("6.00"))  # 300 of 5000


def test_credit_note_cites_the_original():
    p = _payload("credit_note.json")
    assert p["invoice_type_code"] == "380"  # FIRS: 380 = Credit Note
    assert p["billing_reference"] == [{"irn": "INV000123-F3A3A0CF-20261102", "issue_date": "2026-11-02"}]


def test_json_has_exact_numbers():
    body = payload_json(_payload())
    data = json.loads(body, parse_float=Decimal)
    assert data["legal_monetary_total"]["payable_amount"] == D("62349.98")
    assert b'"payable_amount":62349.98' in body
    assert b'"tax_amount":0.00' in body  # trailing zeros kept, as written
    assert b'"percent":7.5' in body
    assert data["invoice_line"][1]["invoiced_quantity"] == D("10")
    assert data["accounting_supplier_party"]["party_name"] == "Adaeze Foods Ltd"


def test_json_does_not_go_through_floats():
    body = payload_json({"a": D("0.1") + D("0.2"), "b": D("12345678901234567.89"), "c": [D("-0.00")], "d": "x\u00e9"})
    assert body == '{"a":0.3,"b":12345678901234567.89,"c":[-0.00],"d":"xé"}'.encode()
    # float(0.1) + float(0.2) would have been 0.30000000000000004; 12345678901234567.89 not representable.


def test_json_refuses_nul_and_non_finite():
    with pytest.raises(ValueError):
        payload_json({"a": "x\x00dec:0"})
    with pytest.raises(ValueError):
        payload_json({"a": D("NaN")})


def test_no_float_anywhere_in_the_payload():
    def walk(value):
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    walk(_payload())
    walk(_payload("pos_b2c.json"))

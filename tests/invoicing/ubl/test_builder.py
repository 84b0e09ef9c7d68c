from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from invoicing import canonical as c
from invoicing.tax import compute_totals
from invoicing.ubl import codes
from invoicing.ubl.builder import NS_CAC, NS_CBC, NS_CREDIT_NOTE, NS_INVOICE, build_ubl
from invoicing.ubl.validator import validate_ubl
from tests.invoicing.fixtures import invoice
from tests.invoicing.fixtures.strategies import invoices

NS = {"cac": NS_CAC, "cbc": NS_CBC, "inv": NS_INVOICE, "cn": NS_CREDIT_NOTE}


def _build(inv):
    xml = build_ubl(inv, compute_totals(inv))
    return xml, etree.fromstring(xml)


def _text(doc, path):
    return doc.xpath(f"string({path})", namespaces=NS)


@pytest.mark.parametrize("name", ["invoice_b2b.json", "credit_note.json", "pos_b2c.json"])
def test_fixture_documents_pass_xsd_and_en16931(name):
    xml, _ = _build(invoice(name))
    assert validate_ubl(xml) == []


def test_invoice_header_and_parties():
    _, doc = _build(invoice())
    assert etree.QName(doc).localname == "Invoice" and etree.QName(doc).namespace == NS_INVOICE
    assert _text(doc, "/inv:Invoice/cbc:CustomizationID") == codes.CUSTOMIZATION_ID
    assert _text(doc, "/inv:Invoice/cbc:ProfileID") == codes.PROFILE_ID
    assert _text(doc, "/inv:Invoice/cbc:ID") == "INV000123"
    assert _text(doc, "/inv:Invoice/cbc:UUID") == "INV000123-F3A3A0CF-20261102"
    assert _text(doc, "/inv:Invoice/cbc:IssueDate") == "2026-11-02"
    assert _text(doc, "/inv:Invoice/cbc:DueDate") == "2026-12-02"
    assert _text(doc, "/inv:Invoice/cbc:InvoiceTypeCode") == "380"
    assert _text(doc, "/inv:Invoice/cbc:DocumentCurrencyCode") == "NGN"
    sup = "/inv:Invoice/cac:AccountingSupplierParty/cac:Party"
    assert _text(doc, f"{sup}/cac:PartyTaxScheme/cbc:CompanyID") == "12345678-0001"
    assert _text(doc, f"{sup}/cac:PartyTaxScheme/cac:TaxScheme/cbc:ID") == "TAX"
    assert _text(doc, f"{sup}/cac:PartyLegalEntity/cbc:RegistrationName") == "Adaeze Foods Ltd"
    assert _text(doc, f"{sup}/cac:PostalAddress/cac:Country/cbc:IdentificationCode") == "NG"
    assert _text(doc, f"{sup}/cac:Contact/cbc:Telephone") == "+2348012345678"
    cus = "/inv:Invoice/cac:AccountingCustomerParty/cac:Party"
    assert _text(doc, f"{cus}/cac:PartyTaxScheme/cbc:CompanyID") == "87654321-0001"
    assert _text(doc, "/inv:Invoice/cac:PaymentMeans/cbc:PaymentMeansCode") == "30"
    assert _text(doc, "/inv:Invoice/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == "0123456789"


def test_totals_breakdown_and_lines():
    _, doc = _build(invoice())
    subs = doc.xpath("/inv:Invoice/cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
    got = [(_text(s, "cac:TaxCategory/cbc:ID"), _text(s, "cac:TaxCategory/cbc:Percent"),
            _text(s, "cbc:TaxableAmount"), _text(s, "cbc:TaxAmount"), _text(s, "cac:TaxCategory/cbc:TaxExemptionReason"))
           for s in subs]
    assert got == [("S", "7.5", "38000.00", "2850.00", ""), ("Z", "0", "3500.00", "0.00", ""),
                   ("E", "0", "17999.98", "0.00", "Baby products are VAT exempt (VAT Act, First Schedule)")]
    lmt = "/inv:Invoice/cac:LegalMonetaryTotal"
    assert [_text(doc, f"{lmt}/cbc:{n}") for n in (
        "LineExtensionAmount", "TaxExclusiveAmount", "TaxInclusiveAmount", "AllowanceTotalAmount",
        "ChargeTotalAmount", "PayableAmount")] == ["57499.98", "59499.98", "62349.98", "0.00", "2000.00", "62349.98"]
    assert doc.xpath(f"{lmt}/cbc:PayableAmount/@currencyID", namespaces=NS) == ["NGN"]
    line = "/inv:Invoice/cac:InvoiceLine[1]"
    assert _text(doc, f"{line}/cbc:InvoicedQuantity") == "3"
    assert _text(doc, f"{line}/cbc:InvoicedQuantity/@unitCode") == "EA"
    assert _text(doc, f"{line}/cbc:LineExtensionAmount") == "36000.00"
    assert _text(doc, f"{line}/cac:AllowanceCharge/cbc:ChargeIndicator") == "false"
    assert _text(doc, f"{line}/cac:AllowanceCharge/cbc:AllowanceChargeReason") == "Volume discount"
    assert _text(doc, f"{line}/cac:Item/cbc:Name") == "Palm oil 5 L"
    assert _text(doc, f"{line}/cac:Item/cac:SellersItemIdentification/cbc:ID") == "PO-5L"
    assert _text(doc, f"{line}/cac:Item/cac:CommodityClassification/cbc:ItemClassificationCode/@listID") == "HS"
    assert _text(doc, f"{line}/cac:Item/cac:ClassifiedTaxCategory/cbc:ID") == "S"
    assert _text(doc, f"{line}/cac:Price/cbc:PriceAmount") == "12500.00"
    charge = "/inv:Invoice/cac:AllowanceCharge"
    assert [_text(doc, f"{charge}/cbc:{n}") for n in ("ChargeIndicator", "AllowanceChargeReason", "Amount")] == [
        "true", "Delivery", "2000.00"]
    assert _text(doc, f"{charge}/cac:TaxCategory/cbc:ID") == "S"


def test_category_mapping_is_one_table_both_ways():
    assert codes.FIRS_TO_UNCL5305 == {c.STANDARD_VAT: "S", c.ZERO_VAT: "Z", c.EXEMPTED: "E"}
    assert {v: k for k, v in codes.UNCL5305_TO_FIRS.items()} == codes.FIRS_TO_UNCL5305


def test_credit_note_document():
    xml, doc = _build(invoice("credit_note.json"))
    assert etree.QName(doc).localname == "CreditNote" and etree.QName(doc).namespace == NS_CREDIT_NOTE
    assert _text(doc, "/cn:CreditNote/cbc:CreditNoteTypeCode") == "381"
    ref = "/cn:CreditNote/cac:BillingReference/cac:InvoiceDocumentReference"
    assert [_text(doc, f"{ref}/cbc:{n}") for n in ("ID", "UUID", "IssueDate")] == [
        "INV000123", "INV000123-F3A3A0CF-20261102", "2026-11-02"]
    assert _text(doc, "/cn:CreditNote/cac:CreditNoteLine/cbc:CreditedQuantity") == "1"
    assert validate_ubl(xml) == []


def test_credit_note_due_date_goes_in_payment_means():
    inv = invoice("credit_note.json")
    inv.due_date = inv.issue_date
    xml, doc = _build(inv)
    assert _text(doc, "/cn:CreditNote/cac:PaymentMeans/cbc:PaymentDueDate") == "2026-11-10"
    assert not doc.xpath("/cn:CreditNote/cbc:DueDate", namespaces=NS)
    assert validate_ubl(xml) == []


@pytest.mark.parametrize("customer", [None, c.Party(name="  ")])
def test_b2c_without_a_name_is_a_walk_in_customer(customer):
    inv = invoice("pos_b2c.json")
    inv.customer = customer
    xml, doc = _build(inv)
    cus = "/inv:Invoice/cac:AccountingCustomerParty/cac:Party"
    assert _text(doc, f"{cus}/cac:PartyLegalEntity/cbc:RegistrationName") == "Walk-in customer"
    assert _text(doc, f"{cus}/cac:PartyName/cbc:Name") == "Walk-in customer"
    assert not doc.xpath(f"{cus}/cac:PartyTaxScheme", namespaces=NS)  # no TIN is invented
    assert validate_ubl(xml) == []


def test_no_irn_no_uuid_and_missing_reasons_get_defaults():
    inv = invoice("pos_b2c.json")
    inv.irn = ""
    inv.allowance_charges[0].reason = ""
    inv.allowance_charges[1].reason = ""
    xml, doc = _build(inv)
    assert not doc.xpath("/inv:Invoice/cbc:UUID", namespaces=NS)
    assert doc.xpath("/inv:Invoice/cac:AllowanceCharge/cbc:AllowanceChargeReason/text()", namespaces=NS) == [
        "Charge", "Discount"]
    assert validate_ubl(xml) == []


def test_text_is_escaped():
    inv = invoice()
    inv.lines[0].description = 'Fish & chips <large> "hot"'
    xml, doc = _build(inv)
    assert _text(doc, "/inv:Invoice/cac:InvoiceLine[1]/cac:Item/cbc:Name") == 'Fish & chips <large> "hot"'
    assert validate_ubl(xml) == []


def test_rates_and_prices_never_use_exponents():
    inv = invoice()
    inv.lines[0].unit_price = Decimal("1E+3")
    inv.lines[0].quantity = Decimal("3E+1")
    _, doc = _build(inv)
    assert _text(doc, "/inv:Invoice/cac:InvoiceLine[1]/cac:Price/cbc:PriceAmount") == "1000"
    assert _text(doc, "/inv:Invoice/cac:InvoiceLine[1]/cbc:InvoicedQuantity") == "30"


@given(invoices(kind=c.INVOICE) | invoices(kind=c.CREDIT_NOTE))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_valid_canonical_invoice_builds_valid_ubl(inv):
    xml, _ = _build(inv)
    assert validate_ubl(xml) == []

"""Builds the UBL 2.1 Invoice or CreditNote of a canonical invoice.

Owns the XML shape only: every figure comes from `invoicing.tax.Totals`, every
code from `invoicing.ubl.codes`. Element order follows the UBL 2.1 XSD sequences
(Invoice and CreditNote differ: a credit note has no cbc:DueDate, so its due
date goes in cac:PaymentMeans/cbc:PaymentDueDate as EN 16931's UBL binding says).
The IRN goes in cbc:UUID, the field FIRS maps it to.
"""
from __future__ import annotations

from decimal import Decimal

from lxml import etree

from invoicing import canonical as c
from invoicing.tax import Totals
from invoicing.ubl import codes

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

_CAC = "{%s}" % NS_CAC
_CBC = "{%s}" % NS_CBC


def _num(value: Decimal) -> str:
    """Plain decimal text: never exponent notation (7.5, not 7.5E+0)."""
    return format(value, "f")


def _amount(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


class _Doc:
    def __init__(self, currency: str):
        self.currency = currency

    @staticmethod
    def cac(parent, name):
        return etree.SubElement(parent, _CAC + name)

    @staticmethod
    def cbc(parent, name, text, **attrib):
        el = etree.SubElement(parent, _CBC + name, attrib)
        el.text = text
        return el

    def money(self, parent, name, value: Decimal):
        return self.cbc(parent, name, _amount(value), currencyID=self.currency)


def _party(d: _Doc, parent, party: c.Party, *, name: str) -> None:
    p = d.cac(parent, "Party")
    d.cbc(d.cac(p, "PartyName"), "Name", name)
    addr = d.cac(p, "PostalAddress")
    if party.street_name:
        d.cbc(addr, "StreetName", party.street_name)
    if party.city_name:
        d.cbc(addr, "CityName", party.city_name)
    if party.postal_zone:
        d.cbc(addr, "PostalZone", party.postal_zone)
    d.cbc(d.cac(addr, "Country"), "IdentificationCode", party.country or "NG")
    if party.tin:
        scheme = d.cac(p, "PartyTaxScheme")
        d.cbc(scheme, "CompanyID", party.tin)
        d.cbc(d.cac(scheme, "TaxScheme"), "ID", codes.TIN_TAX_SCHEME)
    legal = d.cac(p, "PartyLegalEntity")
    d.cbc(legal, "RegistrationName", name)
    if party.tin:
        d.cbc(legal, "CompanyID", party.tin)
    if party.telephone or party.email:
        contact = d.cac(p, "Contact")
        if party.telephone:
            d.cbc(contact, "Telephone", party.telephone)
        if party.email:
            d.cbc(contact, "ElectronicMail", party.email)


def _tax_category(d: _Doc, parent, name: str, category: str, rate: Decimal, exemption_reason: str = ""):
    tc = d.cac(parent, name)
    d.cbc(tc, "ID", codes.FIRS_TO_UNCL5305[category])
    d.cbc(tc, "Percent", _num(rate))
    if exemption_reason:
        d.cbc(tc, "TaxExemptionReason", exemption_reason)
    d.cbc(d.cac(tc, "TaxScheme"), "ID", codes.VAT_TAX_SCHEME)
    return tc


def _allowance_charge(d: _Doc, parent, ac: c.AllowanceCharge, *, with_tax: bool) -> None:
    el = d.cac(parent, "AllowanceCharge")
    d.cbc(el, "ChargeIndicator", "true" if ac.charge_indicator else "false")
    reason = ac.reason or (codes.DEFAULT_CHARGE_REASON if ac.charge_indicator else codes.DEFAULT_ALLOWANCE_REASON)
    d.cbc(el, "AllowanceChargeReason", reason)
    d.money(el, "Amount", ac.amount)
    if with_tax:
        _tax_category(d, el, "TaxCategory", ac.tax_category, ac.tax_rate)


def build_ubl(inv: c.CanonicalInvoice, totals: Totals) -> bytes:
    """The UBL 2.1 Invoice (or CreditNote, for kind CREDIT_NOTE) as UTF-8 bytes."""
    credit = inv.kind == c.CREDIT_NOTE
    root_ns = NS_CREDIT_NOTE if credit else NS_INVOICE
    root = etree.Element("{%s}%s" % (root_ns, "CreditNote" if credit else "Invoice"),
                         nsmap={None: root_ns, "cac": NS_CAC, "cbc": NS_CBC})
    d = _Doc(inv.currency)

    d.cbc(root, "CustomizationID", codes.CUSTOMIZATION_ID)
    d.cbc(root, "ProfileID", codes.PROFILE_ID)
    d.cbc(root, "ID", inv.number or inv.source.id)
    if inv.irn:
        d.cbc(root, "UUID", inv.irn)
    d.cbc(root, "IssueDate", inv.issue_date.isoformat())
    if inv.issue_time:
        d.cbc(root, "IssueTime", inv.issue_time.isoformat())
    if credit:
        d.cbc(root, "CreditNoteTypeCode", codes.UNTDID_1001[c.CREDIT_NOTE])
    else:
        if inv.due_date:
            d.cbc(root, "DueDate", inv.due_date.isoformat())
        d.cbc(root, "InvoiceTypeCode", codes.UNTDID_1001[c.INVOICE])
    if inv.note:
        d.cbc(root, "Note", inv.note)
    d.cbc(root, "DocumentCurrencyCode", inv.currency)
    if inv.buyer_reference:
        d.cbc(root, "BuyerReference", inv.buyer_reference)
    if inv.billing_reference is not None:
        ref = d.cac(d.cac(root, "BillingReference"), "InvoiceDocumentReference")
        d.cbc(ref, "ID", inv.billing_reference.number)
        if inv.billing_reference.irn:
            d.cbc(ref, "UUID", inv.billing_reference.irn)
        if inv.billing_reference.issue_date:
            d.cbc(ref, "IssueDate", inv.billing_reference.issue_date.isoformat())

    _party(d, d.cac(root, "AccountingSupplierParty"), inv.supplier, name=inv.supplier.name)
    customer = inv.customer or c.Party(name="")
    _party(d, d.cac(root, "AccountingCustomerParty"), customer,
           name=customer.name.strip() or codes.WALK_IN_CUSTOMER_NAME)

    means = list(inv.payment_means)
    if credit and inv.due_date and not means:
        # CreditNote has no cbc:DueDate; BT-9 lives in PaymentMeans (code 1: not defined).
        means = [c.PaymentMeans(code="1", due_date=inv.due_date)]
    for pm in means:
        el = d.cac(root, "PaymentMeans")
        d.cbc(el, "PaymentMeansCode", pm.code)
        due = pm.due_date or (inv.due_date if credit else None)
        if due:
            d.cbc(el, "PaymentDueDate", due.isoformat())
        if pm.account_id:
            d.cbc(d.cac(el, "PayeeFinancialAccount"), "ID", pm.account_id)
    if inv.payment_terms:
        d.cbc(d.cac(root, "PaymentTerms"), "Note", inv.payment_terms)

    for ac in inv.allowance_charges:
        _allowance_charge(d, root, ac, with_tax=True)

    tax_total = d.cac(root, "TaxTotal")
    d.money(tax_total, "TaxAmount", totals.tax_amount)
    for sub in totals.tax_subtotals:
        el = d.cac(tax_total, "TaxSubtotal")
        d.money(el, "TaxableAmount", sub.taxable_amount)
        d.money(el, "TaxAmount", sub.tax_amount)
        # BR-Z-10 / BR-S-10: only an exempt breakdown carries a reason.
        reason = sub.exemption_reason if sub.category == c.EXEMPTED else ""
        _tax_category(d, el, "TaxCategory", sub.category, sub.rate, reason)

    lmt = d.cac(root, "LegalMonetaryTotal")
    d.money(lmt, "LineExtensionAmount", totals.line_extension_amount)
    d.money(lmt, "TaxExclusiveAmount", totals.tax_exclusive_amount)
    d.money(lmt, "TaxInclusiveAmount", totals.tax_inclusive_amount)
    if inv.allowance_charges:
        d.money(lmt, "AllowanceTotalAmount", totals.allowance_total_amount)
        d.money(lmt, "ChargeTotalAmount", totals.charge_total_amount)
    d.money(lmt, "PayableAmount", totals.payable_amount)

    line_tag, qty_tag = ("CreditNoteLine", "CreditedQuantity") if credit else ("InvoiceLine", "InvoicedQuantity")
    for i, (line, net) in enumerate(zip(inv.lines, totals.line_net_amounts), start=1):
        el = d.cac(root, line_tag)
        d.cbc(el, "ID", str(i))
        d.cbc(el, qty_tag, _num(line.quantity), unitCode=line.unit_code or "EA")
        d.money(el, "LineExtensionAmount", net)
        for ac in line.allowance_charges:
            _allowance_charge(d, el, ac, with_tax=False)
        item = d.cac(el, "Item")
        d.cbc(item, "Name", line.description)
        if line.item_code:
            d.cbc(d.cac(item, "SellersItemIdentification"), "ID", line.item_code)
        if line.classification_code:
            d.cbc(d.cac(item, "CommodityClassification"), "ItemClassificationCode", line.classification_code,
                  listID=codes.ITEM_CLASSIFICATION_LIST)
        _tax_category(d, item, "ClassifiedTaxCategory", line.tax_category, line.tax_rate)
        price = d.cac(el, "Price")
        d.cbc(price, "PriceAmount", _num(line.unit_price), currencyID=inv.currency)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

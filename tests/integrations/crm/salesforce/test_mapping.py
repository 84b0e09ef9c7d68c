"""Opportunity records, read from the sandbox through the delta query, mapped
to the canonical invoice; totals checked with invoicing.tax."""
import datetime
from decimal import Decimal

import pytest

from integrations.crm.salesforce.client import SalesforceClient
from integrations.crm.salesforce.mapping import MappingConfig, opportunity_to_canonical, pre_tax_amount_mismatch
from integrations.crm.salesforce.soql import DeltaQueryConfig, delta_query
from invoicing.canonical import EXEMPTED, STANDARD_VAT, Party, SourceRef
from invoicing.tax import compare_source_figures, compute_totals

SUPPLIER = Party(name="TaxPoynt Demo Ltd", tin="01234567-0001", street_name="1 Marina", city_name="Lagos")


@pytest.fixture
def won_record(salesforce, seeded, token):
    sandbox = salesforce.app.sandbox
    sandbox.update_opportunity(seeded["opportunities"][0]["Id"], StageName="Closed Won")
    api = SalesforceClient(token["instance_url"], token["access_token"])
    [record] = api.query_records(delta_query(since=None, config=DeltaQueryConfig(
        extra_account_fields=("Email__c",))))
    return record


def test_opportunity_becomes_a_canonical_invoice(won_record):
    invoice = opportunity_to_canonical(won_record, supplier=SUPPLIER)
    assert invoice.source == SourceRef(system="salesforce", type="opportunity", id=won_record["Id"])
    assert invoice.currency == "NGN" and invoice.issue_date == datetime.date(2026, 5, 2)
    customer = invoice.customer
    assert (customer.name, customer.tin, customer.telephone) == ("Dangote Industries Ltd", "12345678-0001", "+2348010000001")
    assert (customer.street_name, customer.city_name, customer.postal_zone, customer.country) == (
        "1 Alfred Rewane Road", "Lagos", "101233", "NG")
    assert invoice.is_b2b
    consulting, licence = invoice.lines
    assert (consulting.description, consulting.item_code) == ("Consulting day", "CONS-DAY")
    assert (consulting.quantity, consulting.unit_price) == (Decimal("10"), Decimal("250000"))
    [discount] = consulting.allowance_charges
    assert discount.charge_indicator is False and discount.amount == Decimal("250000.00")
    assert licence.allowance_charges == []
    assert all((line.tax_category, line.tax_rate) == (STANDARD_VAT, Decimal("7.5")) for line in invoice.lines)
    totals = compute_totals(invoice)
    # our line nets equal Salesforce's TotalPrice; VAT 7.5 % on top of the pre-tax Amount
    assert totals.line_net_amounts == [Decimal("2250000.00"), Decimal("2400000.00")]
    assert totals.tax_exclusive_amount == won_record["Amount"] == Decimal("4650000")
    assert totals.tax_amount == Decimal("348750.00") and totals.payable_amount == Decimal("4998750.00")
    # Amount is pre-tax: no payable source figure, and the pre-tax check agrees
    assert invoice.source_figures.payable_amount is None and compare_source_figures(invoice, totals) is None
    assert pre_tax_amount_mismatch(won_record, invoice) is None


def test_pre_tax_amount_disagreement_is_reported(won_record):
    record = {**won_record, "Amount": Decimal("4000000")}
    invoice = opportunity_to_canonical(record, supplier=SUPPLIER)
    assert pre_tax_amount_mismatch(record, invoice) == {"ours": "4650000.00", "source": "4000000",
                                                        "difference": "-650000.00"}


def test_tax_inclusive_amount_is_compared_as_payable(won_record):
    record = {**won_record, "Amount": Decimal("4998750.00")}
    invoice = opportunity_to_canonical(record, supplier=SUPPLIER, config=MappingConfig(amount_includes_tax=True))
    assert invoice.source_figures.payable_amount == Decimal("4998750.00")
    assert compare_source_figures(invoice, compute_totals(invoice)) is None
    record["Amount"] = Decimal("4650000")
    invoice = opportunity_to_canonical(record, supplier=SUPPLIER, config=MappingConfig(amount_includes_tax=True))
    assert compare_source_figures(invoice, compute_totals(invoice))["difference"]["payable_amount"] == "-348750.00"


def test_field_map_currency_and_tax_configuration(won_record):
    record = {**won_record, "CurrencyIsoCode": None,
              "Account": {**won_record["Account"], "TIN__c": None, "Email__c": "ap@dangote.example"}}
    config = MappingConfig(field_map={"tin": "Email__c", "email": "Email__c", "country": "BillingCountry"},
                           default_currency="NGN", tax_category=EXEMPTED, tax_rate=Decimal("0"),
                           exemption_reason="VATEX-EU-O")
    invoice = opportunity_to_canonical(record, supplier=SUPPLIER, config=config,
                                       issue_date=datetime.date(2026, 5, 3))
    assert invoice.customer.email == "ap@dangote.example" and invoice.customer.tin == "ap@dangote.example"
    assert invoice.customer.telephone == "" and invoice.currency == "NGN"
    assert invoice.issue_date == datetime.date(2026, 5, 3)
    assert {(line.tax_category, line.tax_rate, line.exemption_reason) for line in invoice.lines} == {
        (EXEMPTED, Decimal("0"), "VATEX-EU-O")}
    assert compute_totals(invoice).tax_amount == Decimal("0.00")


def test_opportunity_without_products_or_account():
    record = {"Id": "0068d0000000XyZAAU", "Name": "Walk-in deal", "Amount": 1000.5, "CloseDate": "2026-05-04",
              "CurrencyIsoCode": "USD", "Account": None, "OpportunityLineItems": None}
    invoice = opportunity_to_canonical(record, supplier=SUPPLIER)
    assert invoice.customer is None and not invoice.is_b2b and invoice.currency == "USD"
    [line] = invoice.lines
    assert (line.description, line.quantity, line.unit_price) == ("Walk-in deal", Decimal("1"), Decimal("1000.5"))

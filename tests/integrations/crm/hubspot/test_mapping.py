"""HubSpot deal bundle (fetched from the sandbox) → canonical invoice."""
import datetime
from decimal import Decimal

import pytest

from integrations.crm.hubspot.mapping import canonical_from_bundle, deal_record_from_bundle
from integrations.crm.hubspot.sync import client_for, fetch_deal_bundle
from invoicing.canonical import INVOICE, STANDARD_VAT, ZERO_VAT

TODAY = datetime.date(2026, 11, 22)


def _bundle(conn, sandbox, deal_props, *, line_items=(), company=None, contact=None):
    company_id = sandbox.create_company(company, notify=False)["id"] if company else None
    contact_ids = [sandbox.create_contact(contact, notify=False)["id"]] if contact else []
    deal = sandbox.create_deal(deal_props, line_items=list(line_items), company_id=company_id,
                               contact_ids=contact_ids, notify=False)
    with client_for(conn) as client:
        return fetch_deal_bundle(client, deal["id"], connection=conn)


@pytest.mark.django_db
def test_deal_with_line_items_company_and_contact(hubspot_connection, sandbox):
    conn = hubspot_connection
    conn.field_map = {"customer.tin": "company.tin", "line.classification_code": "line_item.hs_sku"}
    conn.save()
    bundle = _bundle(conn, sandbox, {"dealname": "Generator maintenance", "amount": "208000",
                                     "deal_currency_code": "NGN", "dealstage": "closedwon", "pipeline": "default",
                                     "closedate": "2026-11-20T10:00:00.000Z"},
                     line_items=[{"name": "Service visit", "quantity": "2", "price": "50000", "discount": "1000",
                                  "hs_sku": "SRV-1"},
                                 {"name": "Spare parts", "quantity": "1", "price": "120000",
                                  "hs_discount_percentage": "10"}],
                     company={"name": "Zenith Foods Ltd", "tin": "87654321-0001", "city": "Lagos",
                              "country": "Nigeria", "address": "12 Marina", "phone": "+2348012345678"},
                     contact={"firstname": "Ngozi", "lastname": "Okafor", "email": "ngozi@zenith.example.ng"})
    inv = canonical_from_bundle(bundle, connection=conn, issue_fallback=TODAY)
    assert inv.kind == INVOICE and inv.currency == "NGN"
    assert inv.issue_date == datetime.date(2026, 11, 20)
    assert inv.source.system == "hubspot" and inv.source.type == "deal" and inv.source.id == bundle["deal"]["id"]
    assert inv.supplier.tin == conn.organization.tin
    assert (inv.customer.name, inv.customer.tin, inv.customer.email) == \
        ("Zenith Foods Ltd", "87654321-0001", "ngozi@zenith.example.ng")
    assert inv.customer.city_name == "Lagos" and inv.customer.country == "NG"
    by_name = {line.description: line for line in inv.lines}
    visit, parts = by_name["Service visit"], by_name["Spare parts"]
    assert (visit.quantity, visit.unit_price) == (Decimal("2"), Decimal("50000"))
    assert [a.amount for a in visit.allowance_charges] == [Decimal("2000.00")]
    assert [a.amount for a in parts.allowance_charges] == [Decimal("12000.00")]
    assert visit.classification_code == "SRV-1"
    assert all(line.tax_category == STANDARD_VAT and line.tax_rate == Decimal("7.5") for line in inv.lines)
    assert all(isinstance(line.quantity, Decimal) and isinstance(line.unit_price, Decimal) for line in inv.lines)

    record = deal_record_from_bundle(bundle, connection=conn)
    assert record.stage == "closedwon" and record.amount == Decimal("208000")
    assert record.customer.tin == "87654321-0001"
    assert record.source_updated_at is not None


@pytest.mark.django_db
def test_currency_defaults_to_the_organization_and_follows_the_deal(hubspot_connection, sandbox):
    no_currency = _bundle(hubspot_connection, sandbox, {"dealname": "A", "amount": "1000", "dealstage": "closedwon"})
    usd = _bundle(hubspot_connection, sandbox, {"dealname": "B", "amount": "1000", "dealstage": "closedwon",
                                                "deal_currency_code": "USD"})
    assert canonical_from_bundle(no_currency, connection=hubspot_connection, issue_fallback=TODAY).currency == "NGN"
    assert canonical_from_bundle(usd, connection=hubspot_connection, issue_fallback=TODAY).currency == "USD"


@pytest.mark.django_db
def test_deal_without_line_items_is_one_line_for_its_amount(hubspot_connection, sandbox):
    bundle = _bundle(hubspot_connection, sandbox, {"dealname": "Retainer", "amount": "75000.50",
                                                   "dealstage": "closedwon"})
    inv = canonical_from_bundle(bundle, connection=hubspot_connection, issue_fallback=TODAY)
    assert len(inv.lines) == 1
    assert (inv.lines[0].description, inv.lines[0].quantity, inv.lines[0].unit_price) == \
        ("Retainer", Decimal("1"), Decimal("75000.50"))
    assert inv.customer is None  # no company/contact: B2C
    assert inv.issue_date == TODAY  # no close date


@pytest.mark.django_db
def test_tax_comes_from_the_connection_rule(hubspot_connection, sandbox):
    conn = hubspot_connection
    conn.trigger_rule = {"won_stages": ["closedwon"], "tax_category": ZERO_VAT, "tax_rate": "0",
                         "exemption_reason": "Exported service"}
    conn.save()
    bundle = _bundle(conn, sandbox, {"dealname": "Export", "amount": "5000", "dealstage": "closedwon"},
                     line_items=[{"name": "Design", "quantity": "1", "price": "5000"}])
    line = canonical_from_bundle(bundle, connection=conn, issue_fallback=TODAY).lines[0]
    assert (line.tax_category, line.tax_rate, line.exemption_reason) == (ZERO_VAT, Decimal("0"), "Exported service")

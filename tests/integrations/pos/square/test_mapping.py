"""Square order / return → canonical invoice (integrations/pos/square/mapping.py)."""
import datetime as dt
import importlib.util
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from integrations.pos.square.client import SquareClient
from integrations.pos.square.mapping import (
    ROUNDING_REASON,
    MappingOptions,
    SquareMappingError,
    credits_own_returns,
    order_figures,
    order_to_canonical,
    refunded_sale,
    returned_sales,
    return_to_canonical,
)
from integrations.pos.square.sandbox import pricing
from invoicing.canonical import CREDIT_NOTE, EXEMPTED, INVOICE, STANDARD_VAT, ZERO_VAT

from .fixtures import gift_card_line, vat_sale

D = Decimal
HAS_TAX_CORE = importlib.util.find_spec("invoicing.tax") is not None


def m(amount):
    return {"amount": amount, "currency": "NGN"}


def reference_totals(inv):
    """EN 16931 totals, written out here so the mapping is checked even before
    invoicing.tax exists: line net = round(qty × price) ± line allowances/charges;
    per category, taxable = Σ line nets ± document allowances/charges, tax =
    round(taxable × rate)."""
    q = D("0.01")
    taxable = defaultdict(D)
    for line in inv.lines:
        net = (line.quantity * line.unit_price).quantize(q, ROUND_HALF_UP)
        for ac in line.allowance_charges:
            net += ac.amount if ac.charge_indicator else -ac.amount
        taxable[(line.tax_category, line.tax_rate)] += net
    for ac in inv.allowance_charges:
        taxable[(ac.tax_category, ac.tax_rate)] += ac.amount if ac.charge_indicator else -ac.amount
    tax = sum(((v * k[1] / 100).quantize(q, ROUND_HALF_UP) for k, v in taxable.items()), D(0))
    return tax, sum(taxable.values()) + tax


def totals(inv):
    if HAS_TAX_CORE:
        from invoicing.tax import compute_totals

        t = compute_totals(inv)
        return t.tax_amount, t.payable_amount
    return reference_totals(inv)


def cafe_order(*, tax_type="ADDITIVE", tip=50000):
    order = {
        "id": "ORDER1", "location_id": "L1", "state": "COMPLETED", "closed_at": "2026-05-02T23:30:00.000Z",
        "line_items": [
            {"uid": "latte", "name": "Latte", "variation_name": "Medium", "quantity": "2",
             "catalog_object_id": "VAR-LATTE", "base_price_money": m(280000),
             "modifiers": [{"uid": "oat", "name": "Oat Milk", "base_price_money": m(50000), "quantity": "1"}],
             "applied_taxes": [{"tax_uid": "vat"}], "applied_discounts": [{"discount_uid": "hh"}]},
            {"uid": "water", "name": "Bottled Water", "variation_name": "Regular", "quantity": "1",
             "base_price_money": m(30000), "applied_taxes": [{"tax_uid": "zero"}]},
        ],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": tax_type, "scope": "LINE_ITEM"},
                  {"uid": "zero", "name": "Zero", "percentage": "0", "type": "ADDITIVE", "scope": "LINE_ITEM"}],
        "discounts": [
            {"uid": "hh", "name": "Happy Hour", "type": "FIXED_PERCENTAGE", "percentage": "10", "scope": "LINE_ITEM"},
            {"uid": "voucher", "name": "Voucher", "type": "FIXED_AMOUNT", "amount_money": m(20000), "scope": "ORDER"},
        ],
        "service_charges": [{"uid": "svc", "name": "Service Charge", "percentage": "10",
                             "calculation_phase": "SUBTOTAL_PHASE", "taxable": True,
                             "applied_taxes": [{"tax_uid": "vat"}]}],
        "tenders": [{"id": "T1", "type": "CARD", "tip_money": m(tip), "payment_id": "P1"}],
    }
    return pricing.price_order(order)


def create_order_body():
    """The café order as a CreateOrder body (what the sandbox prices itself)."""
    return {k: v for k, v in cafe_order(tip=0).items() if k in ("line_items", "taxes", "discounts", "service_charges")}


def test_sale_with_modifiers_discounts_taxes_service_charge_and_tip():
    order = cafe_order()
    inv = order_to_canonical(order)
    assert inv.kind == INVOICE and inv.currency == "NGN" and inv.customer is None
    assert inv.supplier.name == "" and inv.supplier.tin == ""  # filled by the invoicing core
    assert (inv.source.system, inv.source.type, inv.source.id) == ("square", "order", "ORDER1")
    # closed 23:30 UTC = 00:30 the next day in Lagos
    assert inv.issue_date == dt.date(2026, 5, 3) and inv.issue_time == dt.time(0, 30)
    latte, water = inv.lines
    assert latte.description == "Latte, Medium + Oat Milk"
    assert (latte.quantity, latte.unit_price) == (D("2"), D("3300.00"))
    assert (latte.tax_category, latte.tax_rate, latte.item_code) == (STANDARD_VAT, D("7.5"), "VAR-LATTE")
    # 10 % of 660000 kobo first (percentages before amounts), then the voucher apportioned 594000:30000
    assert [(a.charge_indicator, a.amount, a.reason) for a in latte.allowance_charges] == [
        (False, D("660.00"), "Happy Hour")]
    assert (water.tax_category, water.tax_rate, water.exemption_reason) == (ZERO_VAT, D("0"), "Zero-rated supply")
    assert water.allowance_charges == []
    doc = [(a.charge_indicator, a.amount, a.reason, a.tax_category, a.tax_rate) for a in inv.allowance_charges]
    assert doc == [
        (False, D("190.38"), "Voucher", STANDARD_VAT, D("7.5")),
        (False, D("9.62"), "Voucher", ZERO_VAT, D("0")),
        (True, D("604.00"), "Service Charge", STANDARD_VAT, D("7.5")),  # 10 % of 6040.00, taxed
    ]
    assert [p.code for p in inv.payment_means] == ["48"]
    # source figures: Square's own tax and total, less the tip (left off the invoice)
    assert inv.source_figures.tax_amount == D(order["total_tax_money"]["amount"]) / 100
    assert inv.source_figures.payable_amount == D(order["total_money"]["amount"] - 50000) / 100
    tax, payable = totals(inv)
    assert (tax, payable) == (inv.source_figures.tax_amount, inv.source_figures.payable_amount)
    assert all(isinstance(v, Decimal) for v in (latte.unit_price, latte.quantity, tax, payable))


def test_tips_can_be_kept_as_a_zero_rated_charge():
    order = cafe_order()
    inv = order_to_canonical(order, options=MappingOptions(tips="charge"))
    tip = inv.allowance_charges[-1]
    assert (tip.charge_indicator, tip.amount, tip.reason, tip.tax_category, tip.tax_rate) == (
        True, D("500.00"), "Tip", ZERO_VAT, D("0"))
    assert inv.source_figures.payable_amount == D(order["total_money"]["amount"]) / 100
    assert totals(inv)[1] == inv.source_figures.payable_amount


def test_inclusive_taxes_become_net_prices():
    order = cafe_order(tax_type="INCLUSIVE", tip=0)
    inv = order_to_canonical(order)
    latte = inv.lines[0]
    # 3300.00 incl. 7.5 % → 3069.77 net (half-even at 2 dp)
    assert latte.unit_price == D("3069.77")
    assert latte.allowance_charges[0].amount == (D("660.00") * 100 / D("107.5")).quantize(D("0.01"))
    assert inv.allowance_charges[0].amount == (D("190.38") * 100 / D("107.5")).quantize(D("0.01"))
    # the line net we send equals Square's own net (total − tax) once the order discount is taken off
    li = order["line_items"][0]
    line_net = (latte.quantity * latte.unit_price) + sum(
        a.amount if a.charge_indicator else -a.amount for a in latte.allowance_charges)
    assert line_net - inv.allowance_charges[0].amount == D(li["total_money"]["amount"] - li["total_tax_money"]["amount"]) / 100
    tax, payable = totals(inv)
    assert abs(tax - inv.source_figures.tax_amount) <= D("0.01")
    assert abs(payable - inv.source_figures.payable_amount) <= D("0.01")


def test_inclusive_price_rounding_goes_to_a_rounding_line_charge():
    order = pricing.price_order({
        "id": "O2", "closed_at": "2026-05-02T10:00:00Z",
        "line_items": [{"uid": "a", "name": "Puff-Puff", "quantity": "3", "base_price_money": m(1000),
                        "applied_taxes": [{"tax_uid": "vat"}]}],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "INCLUSIVE", "scope": "ORDER"}],
    })
    inv = order_to_canonical(order)
    line = inv.lines[0]
    assert line.unit_price == D("9.30")  # 10.00 / 1.075 = 9.3023…
    # Square: 30.00 incl. 2.09 tax → net 27.91; 3 × 9.30 = 27.90 → +0.01 rounding charge
    assert [(a.charge_indicator, a.amount, a.reason) for a in line.allowance_charges] == [
        (True, D("0.01"), ROUNDING_REASON)]
    assert totals(inv) == (D("2.09"), D("30.00"))


def test_a_line_gap_larger_than_rounding_refuses_the_sale_instead_of_hiding_in_a_rounding_charge():
    """A line whose Square total is ₦50 off what its price, discounts and
    taxes make (a figure the mapping misreads, say a share of something it
    does not know) is refused with the line and the gap; a kobo of
    tax-inclusive rounding still goes to the rounding charge."""
    order = pricing.price_order({
        "id": "O9", "closed_at": "2026-05-02T10:00:00Z",
        "line_items": [{"uid": "a", "name": "Puff-Puff", "quantity": "3", "base_price_money": m(1000),
                        "applied_taxes": [{"tax_uid": "vat"}]}],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "INCLUSIVE", "scope": "ORDER"}],
    })
    assert order_to_canonical(order).lines[0].allowance_charges[0].reason == ROUNDING_REASON
    off = order["line_items"][0]
    for key in ("total_money", "gross_sales_money"):
        off[key] = m(off[key]["amount"] + 5000)
    with pytest.raises(SquareMappingError) as refused:
        order_to_canonical(order)
    assert "Puff-Puff" in refused.value.message and "differ by 50.01" in refused.value.message  # ₦50 and the kobo of rounding


def test_tax_rate_mapping_is_configurable_and_unknown_rates_are_refused():
    order = pricing.price_order({
        "id": "O3", "closed_at": "2026-05-02T10:00:00Z",
        "line_items": [{"uid": "a", "name": "Book", "quantity": "1", "base_price_money": m(500000),
                        "applied_taxes": [{"tax_uid": "t"}]}],
        "taxes": [{"uid": "t", "name": "Levy", "percentage": "5", "type": "ADDITIVE", "scope": "LINE_ITEM"}],
    })
    with pytest.raises(SquareMappingError):
        order_to_canonical(order)
    untaxed = pricing.price_order({"id": "O4", "closed_at": "2026-05-02T10:00:00Z",
                                   "line_items": [{"uid": "a", "name": "Bread", "quantity": "1",
                                                   "base_price_money": m(120000)}]})
    inv = order_to_canonical(untaxed, options=MappingOptions(untaxed_category=EXEMPTED))
    assert (inv.lines[0].tax_category, inv.lines[0].tax_rate, inv.lines[0].exemption_reason) == (
        EXEMPTED, D("0"), "VAT-exempt supply")


def test_b2b_customer_from_a_mapped_custom_attribute():
    order = cafe_order()
    order["customer_id"] = "CUST1"
    customer = {"id": "CUST1", "company_name": "Dangote Foods Ltd", "email_address": "ap@dangote.example.ng",
                "address": {"address_line_1": "1 Alfred Rewane Rd", "locality": "Ikoyi", "country": "NG"}}
    attrs = {"tax-id": {"key": "tax-id", "value": "12345678-0001"}}
    inv = order_to_canonical(order, field_map={"customer.tin": "metadata.tax-id"}, customer=customer,
                             customer_attributes=attrs)
    assert inv.is_b2b
    assert (inv.customer.name, inv.customer.tin, inv.customer.city_name) == ("Dangote Foods Ltd", "12345678-0001",
                                                                            "Ikoyi")
    # no TIN on the customer (or no mapping): B2C walk-in
    assert order_to_canonical(order, field_map={"customer.tin": "metadata.tax-id"}, customer=customer,
                              customer_attributes={}).customer is None
    assert order_to_canonical(order, customer=customer, customer_attributes=attrs).customer is None


def test_refunds_become_credit_notes(square):
    sb = square.app.sandbox
    sale = sb.create_sale(order=create_order_body(), tip=30000)
    invoice = order_to_canonical(sale["order"])
    refund = sb.refund_payment(payment_id=sale["payment"]["id"], reason="Wrong order")
    refund = sb.get_refund(refund["id"], sb.default_merchant_id)
    note = return_to_canonical(sb.orders[refund["order_id"]], refund=refund)
    assert note.kind == CREDIT_NOTE and note.billing_reference is None
    assert (note.source.type, note.source.id, note.note) == ("refund", refund["id"], "Wrong order")
    # a full return credits exactly what was invoiced
    assert [(x.description, x.quantity, x.unit_price, x.tax_category) for x in note.lines] == [
        (x.description, x.quantity, x.unit_price, x.tax_category) for x in invoice.lines]
    assert [(a.charge_indicator, a.amount, a.tax_category) for a in note.allowance_charges] == [
        (a.charge_indicator, a.amount, a.tax_category) for a in invoice.allowance_charges]
    assert note.source_figures == invoice.source_figures
    assert totals(note) == totals(invoice)

    # one latte of two returned
    sale2 = sb.create_sale(order=create_order_body())
    r2 = sb.refund_payment(payment_id=sale2["payment"]["id"],
                           line_items=[{"source_line_item_uid": "latte", "quantity": "1"}])
    part = return_to_canonical(sb.orders[r2["order_id"]], refund=sb.refunds[r2["id"]])
    assert [(x.description, x.quantity) for x in part.lines] == [("Latte, Medium + Oat Milk", D("1"))]
    tax, payable = totals(part)
    assert abs(tax - part.source_figures.tax_amount) <= D("0.01")
    assert abs(payable - part.source_figures.payable_amount) <= D("0.01")

    # a bare partial amount: one tax-inclusive custom-amount line
    sale3 = sb.create_sale(random_sale=True)
    r3 = sb.refund_payment(payment_id=sale3["payment"]["id"], amount=107500)
    custom = return_to_canonical(sb.orders[r3["order_id"]], refund=sb.refunds[r3["id"]])
    assert len(custom.lines) == 1 and custom.source_figures.payable_amount == D("1075.00")
    assert totals(custom) == (custom.source_figures.tax_amount, D("1075.00"))


def test_realistic_sandbox_sales_reconcile_with_squares_totals(square):
    """Every random sale, read back over HTTP, maps to an invoice whose totals
    equal Square's to the cent, or differ by Square's per-line tax rounding (a
    kobo per line at most), which the invoicing core then flags."""
    sb = square.app.sandbox
    for _ in range(150):
        sb.create_sale(random_sale=True)
    client = SquareClient(base_url=square.url, access_token=sb.issue_token()["access_token"])
    orders = [o for page in client.iter_order_pages(location_ids=list(sb.locations), limit=100) for o in page.orders]
    client.close()
    assert len(orders) == 150
    exact = 0
    for order in orders:
        inv = order_to_canonical(order)
        tax, payable = totals(inv)
        bound = D("0.01") * (len(inv.lines) + len(order["service_charges"]))
        assert abs(tax - inv.source_figures.tax_amount) <= bound, order["id"]
        # every net amount matches; only tax rounding can differ
        assert payable - inv.source_figures.payable_amount == tax - inv.source_figures.tax_amount
        exact += tax == inv.source_figures.tax_amount
        if HAS_TAX_CORE:
            from invoicing.tax import compare_source_figures, compute_totals

            if tax == inv.source_figures.tax_amount:
                assert compare_source_figures(inv, compute_totals(inv)) is None
    assert exact >= len(orders) * 0.7


@pytest.mark.skipif(importlib.util.find_spec("invoicing.documents") is None, reason="invoicing.documents not built")
def test_mapped_sales_and_refunds_render_as_valid_ubl_and_firs_documents(square):
    """The invoicing core accepts what the mapper makes: every canonical rule,
    the UBL 2.1 XSD and the EN 16931 schematron pass, and Square's own figures
    agree with ours within the core's tolerance."""
    from invoicing.canonical import BillingReference, Party
    from invoicing.documents import render

    sb = square.app.sandbox
    supplier = Party(name="Mama Put Lagos Ltd", tin="12345678-0001", street_name="12 Adeola Odeku Street",
                     email="accounts@mamaput.example.ng", telephone="+2348012345678",
                     city_name="Lagos", postal_zone="101241")
    business_id = "3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10"
    for n in range(15):
        sale = sb.create_sale(random_sale=True)
        inv = order_to_canonical(sale["order"])
        inv.supplier, inv.number, inv.irn = supplier, f"INV{n:04d}", f"INV{n:04d}-94ND90NR-20260502"
        rendered = render(inv, business_id=business_id)
        assert rendered.source_mismatch is None
    refund = sb.refund_payment(payment_id=sale["payment"]["id"])
    note = return_to_canonical(sb.orders[refund["order_id"]], refund=sb.refunds[refund["id"]])
    note.supplier, note.number, note.irn = supplier, "CN0001", "CN0001-94ND90NR-20260502"
    note.billing_reference = BillingReference(number=inv.number, irn=inv.irn, issue_date=inv.issue_date)
    rendered = render(note, business_id=business_id)
    assert rendered.source_mismatch is None
    assert rendered.totals.payable_amount == note.source_figures.payable_amount


def test_weighed_items_keep_their_unit_and_fractional_quantity():
    order = pricing.price_order({
        "id": "O5", "closed_at": "2026-05-02T10:00:00Z",
        "line_items": [{"uid": "a", "name": "Suya", "quantity": "1.5", "base_price_money": m(333333),
                        "quantity_unit": {"measurement_unit": {"weight_unit": "METRIC_KILOGRAM"}, "precision": 1},
                        "applied_taxes": [{"tax_uid": "vat"}]}],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "ORDER"}],
    })
    inv = order_to_canonical(order)
    line = inv.lines[0]
    assert (line.quantity, line.unit_price, line.unit_code) == (D("1.5"), D("3333.33"), "KGM")
    # 1.5 × 3333.33 kobo → Square rounds 499999.5 to 500000 (half even); ours 4999.995 → 5000.00
    assert line.allowance_charges == []
    assert totals(inv) == (D(order["total_tax_money"]["amount"]) / 100, D(order["total_money"]["amount"]) / 100)


def test_order_figures_for_the_transaction_row(square):
    sb = square.app.sandbox
    sale = sb.create_sale(order=create_order_body(), tip=30000)
    f = order_figures(sale["order"])
    o = sale["order"]
    assert (f.order_id, f.location_id, f.state, f.currency, f.refunded) == (o["id"], o["location_id"], "COMPLETED",
                                                                          "NGN", False)
    assert f.total_amount == D(o["total_money"]["amount"]) / 100 and f.tip_amount == D("300.00")
    assert f.occurred_at == dt.datetime.fromisoformat(o["closed_at"].replace("Z", "+00:00"))
    sb.refund_payment(payment_id=sale["payment"]["id"])
    after = order_figures(sb.get_order(o["id"], sb.default_merchant_id))
    assert after.refunded and after.total_amount == D("0.00")


@pytest.mark.parametrize("currency, exponent", [("USD", 2), ("JPY", 0), ("BHD", 3)])
def test_minor_units_follow_the_currency(currency, exponent):
    """Square's amounts are in the currency's smallest unit: cents, yen, fils.
    The mapper reads each in its own exponent; the invoice's totals are EN
    16931's, two decimals whatever the currency, so for yen or fils they can
    differ from Square's by its rounding (flagged as a tax mismatch then)."""
    order = pricing.price_order({
        "id": "O6", "closed_at": "2026-05-02T10:00:00Z",
        "line_items": [{"uid": "a", "name": "Plate", "quantity": "3",
                        "base_price_money": {"amount": 12345, "currency": currency},
                        "applied_taxes": [{"tax_uid": "vat"}]}],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "ORDER"}],
    })
    inv = order_to_canonical(order)
    assert inv.currency == currency
    assert inv.lines[0].unit_price == D(12345).scaleb(-exponent)
    assert order_figures(order).total_amount == D(order["total_money"]["amount"]).scaleb(-exponent)
    square_totals = (D(order["total_tax_money"]["amount"]).scaleb(-exponent),
                     D(order["total_money"]["amount"]).scaleb(-exponent))
    if exponent == 2:
        assert totals(inv) == square_totals
    else:
        assert all(abs(ours - theirs) < D(1).scaleb(-min(exponent, 2))
                   for ours, theirs in zip(totals(inv), square_totals))


def test_apportioned_service_charges_are_charges_on_their_lines_not_a_second_document_charge():
    """Square puts an apportioned service charge's share of each line in the
    line's gross sales, tax and total (its `total_service_charge_money`), and
    lists the charge once more in the order's service_charges. The shape is a
    real Square POS order (developer.squareup.com/forums/t/10789: base 1500,
    apportioned charge 24, gross and total 1524, inclusive tax 139), in naira."""
    order = {
        "id": "O7", "closed_at": "2026-05-02T10:00:00Z",
        "line_items": [{
            "uid": "cap", "name": "Cap", "quantity": "1", "item_type": "ITEM", "base_price_money": m(150000),
            "variation_total_price_money": m(150000), "gross_sales_money": m(152400),
            "applied_taxes": [{"uid": "at", "tax_uid": "vat", "applied_money": m(10633)}],
            "applied_service_charges": [{"uid": "as", "service_charge_uid": "sc", "applied_money": m(2400)}],
            "total_service_charge_money": m(2400), "total_discount_money": m(0),
            "total_tax_money": m(10633), "total_money": m(152400)}],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "INCLUSIVE", "scope": "LINE_ITEM",
                   "applied_money": m(10633)}],
        "service_charges": [{"uid": "sc", "name": "Service Charge", "amount_money": m(2400),
                             "applied_money": m(2400), "total_money": m(2400), "total_tax_money": m(167),
                             "calculation_phase": "APPORTIONED_AMOUNT_PHASE", "treatment_type": "APPORTIONED_TREATMENT",
                             "scope": "ORDER", "taxable": True}],
        "total_money": m(152400), "total_tax_money": m(10633), "total_service_charge_money": m(2400),
    }
    inv = order_to_canonical(order)
    line = inv.lines[0]
    assert line.unit_price == D("1395.35")  # 1500.00 / 1.075
    # the share, net of the line's inclusive VAT (24.00 / 1.075), then Square's cent
    assert [(a.charge_indicator, a.amount, a.reason) for a in line.allowance_charges] == [
        (True, D("22.33"), "Service Charge"), (False, D("0.01"), ROUNDING_REASON)]
    assert inv.allowance_charges == []
    assert totals(inv) == (D("106.33"), D("1524.00"))

    # additive VAT, a 10 % charge apportioned over two lines (5000.00 and 1000.00)
    lines = [("Jollof", "2", 250000, 50000, 41250, 591250), ("Zobo", "1", 100000, 10000, 8250, 118250)]
    order = {
        "id": "O8", "closed_at": "2026-05-02T10:00:00Z",
        "line_items": [{
            "uid": name, "name": name, "quantity": qty, "base_price_money": m(price),
            "applied_taxes": [{"tax_uid": "vat", "applied_money": m(tax)}],
            "applied_service_charges": [{"service_charge_uid": "sc", "applied_money": m(share)}],
            "total_service_charge_money": m(share), "total_tax_money": m(tax), "total_money": m(total)}
            for name, qty, price, share, tax, total in lines],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "ORDER"}],
        "service_charges": [{"uid": "sc", "name": "Service 10%", "percentage": "10", "applied_money": m(60000),
                             "total_money": m(60000), "calculation_phase": "APPORTIONED_PERCENTAGE_PHASE",
                             "scope": "ORDER", "taxable": True}],
        "total_money": m(709500), "total_tax_money": m(49500),
    }
    inv = order_to_canonical(order)
    assert [[(a.charge_indicator, a.amount, a.reason) for a in x.allowance_charges] for x in inv.lines] == [
        [(True, D("500.00"), "Service 10%")], [(True, D("100.00"), "Service 10%")]]
    assert inv.allowance_charges == []
    assert totals(inv) == (D("495.00"), D("7095.00")) == (inv.source_figures.tax_amount,
                                                           inv.source_figures.payable_amount)


def test_a_gift_card_sold_with_goods_is_left_off_the_invoice():
    """Selling a gift card is not a supply (its goods are invoiced when the
    card pays for them): only the jollof is invoiced, and Square's total is
    taken without the card."""
    order = pricing.price_order({
        "id": "O9", "closed_at": "2026-05-02T10:00:00Z",
        "line_items": [{"uid": "jollof", "name": "Jollof rice", "quantity": "2", "base_price_money": m(250000),
                        "applied_taxes": [{"tax_uid": "vat"}]}, gift_card_line()],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "LINE_ITEM"}],
    })
    assert order["total_money"]["amount"] == 537500 + 1000000
    inv = order_to_canonical(order)
    assert [x.description for x in inv.lines] == ["Jollof rice"]
    assert (inv.source_figures.tax_amount, inv.source_figures.payable_amount) == (D("375.00"), D("5375.00"))
    assert totals(inv) == (D("375.00"), D("5375.00"))



def test_a_sandbox_sale_with_apportioned_service_charges_and_its_refund(square):
    from tests.integrations.pos.square.sandbox.test_pricing import apportioned_sale

    sb = square.app.sandbox
    sale = sb.create_sale(order=apportioned_sale(), tip=20000)
    invoice = order_to_canonical(sale["order"])
    assert [[(a.amount, a.reason) for a in x.allowance_charges] for x in invoice.lines] == [
        [(D("500.00"), "Service 10%")], [(D("30.00"), "Packaging"), (D("100.00"), "Service 10%")]]
    assert invoice.allowance_charges == []
    assert totals(invoice) == (D("497.25"), D("7127.25")) == (invoice.source_figures.tax_amount,
                                                              invoice.source_figures.payable_amount)
    refund = sb.refund_payment(payment_id=sale["payment"]["id"])
    note = return_to_canonical(sb.orders[refund["order_id"]], refund=sb.refunds[refund["id"]])
    assert [(x.description, x.quantity, x.unit_price, [(a.amount, a.reason) for a in x.allowance_charges])
            for x in note.lines] == [(x.description, x.quantity, x.unit_price,
                                      [(a.amount, a.reason) for a in x.allowance_charges]) for x in invoice.lines]
    assert note.allowance_charges == [] and totals(note) == totals(invoice) == (
        note.source_figures.tax_amount, note.source_figures.payable_amount)


def levy_order(tax_type="ADDITIVE", *, second_vat=False):
    """A Lagos restaurant's sale: 7.5 % VAT and Lagos State's 5 % Hotel
    Occupancy and Restaurant Consumption Tax on every item (ORDER scope) and
    on the taxable service charge; a line discount on the Chapman.
    `second_vat`: the Chapman also carries a second 7.5 % tax."""
    order = {
        "id": "LEVY1", "closed_at": "2026-05-02T19:00:00Z",
        "line_items": [
            {"uid": "jollof", "name": "Jollof rice", "quantity": "2", "base_price_money": m(250000)},
            {"uid": "chapman", "name": "Chapman", "quantity": "1", "base_price_money": m(180000),
             "applied_discounts": [{"discount_uid": "hh"}]},
        ],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": tax_type, "scope": "ORDER"},
                  {"uid": "levy", "name": "Consumption Tax", "percentage": "5", "type": tax_type, "scope": "ORDER"}],
        "discounts": [{"uid": "hh", "name": "Happy Hour", "type": "FIXED_PERCENTAGE", "percentage": "10",
                       "scope": "LINE_ITEM"}],
        "service_charges": [{"uid": "svc", "name": "Service Charge", "percentage": "10",
                             "calculation_phase": "SUBTOTAL_PHASE", "taxable": True}],
    }
    if second_vat:
        order["taxes"].append({"uid": "vat2", "name": "Sales VAT", "percentage": "7.5", "type": tax_type,
                               "scope": "LINE_ITEM"})
        order["line_items"][1]["applied_taxes"] = [{"tax_uid": "vat2"}]
    return pricing.price_order(order)


def _square_levy(order):
    return sum(a["applied_money"]["amount"] for x in order["line_items"] + order["service_charges"]
               for a in x.get("applied_taxes") or [] if a["tax_uid"] == "levy")


def _square_line_nets(order):
    return [D(li["total_money"]["amount"] - li["total_tax_money"]["amount"]) / 100 for li in order["line_items"]]


def _line_nets(inv):
    from invoicing.tax import line_net_amount

    return [line_net_amount(x) for x in inv.lines]


def test_a_consumption_tax_beside_additive_vat_is_left_off_the_invoice():
    """VAT 7.5 % and a 5 % consumption tax, both added to the price: the
    invoice carries the VAT only, on Square's net, and Square's figures less
    the levy agree with ours."""
    from invoicing.tax import compare_source_figures, compute_totals

    order = levy_order()
    levy = _square_levy(order)
    assert (levy, order["taxes"][1]["applied_money"]["amount"]) == (36410, 36410)  # 250 + 81 + 33.10
    inv = order_to_canonical(order)
    assert [(x.description, x.tax_category, x.tax_rate) for x in inv.lines] == [
        ("Jollof rice", STANDARD_VAT, D("7.5")), ("Chapman", STANDARD_VAT, D("7.5"))]
    assert _line_nets(inv) == _square_line_nets(order) == [D("5000.00"), D("1620.00")]
    assert [(a.charge_indicator, a.amount, a.reason, a.tax_category) for a in inv.allowance_charges] == [
        (True, D("662.00"), "Service Charge", STANDARD_VAT)]  # net of both taxes
    t = compute_totals(inv)
    assert t.tax_exclusive_amount == D("7282.00") and t.tax_amount == D("546.15")  # 7.5 % of the net
    assert inv.source_figures.tax_amount == D(order["total_tax_money"]["amount"] - levy) / 100 == D("546.15")
    assert inv.source_figures.payable_amount == D(order["total_money"]["amount"] - levy) / 100 == D("7828.15")
    assert compare_source_figures(inv, t) is None


def test_a_consumption_tax_inside_an_inclusive_price_is_taken_out_with_the_vat():
    """Both taxes included in the price: Square takes both out of it (net =
    price × 100 / 112.5); the line nets are Square's and no mismatch shows."""
    from invoicing.tax import compare_source_figures, compute_totals

    order = levy_order("INCLUSIVE")
    levy = _square_levy(order)
    inv = order_to_canonical(order)
    jollof = inv.lines[0]
    assert jollof.unit_price == D("2222.22")  # 2500.00 × 100 / 112.5
    assert _line_nets(inv) == _square_line_nets(order) == [D("4444.45"), D("1440.00")]
    assert inv.allowance_charges[0].amount == D("588.45")  # 662.00 less 44.13 VAT and 29.42 levy
    t = compute_totals(inv)
    assert t.tax_exclusive_amount == D("6472.90") and t.tax_amount == D("485.47")  # 7.5 % of the net
    # Square rounds VAT per line (333.33 + 108.00 + 44.13): a kobo apart, within the core's tolerance
    assert inv.source_figures.tax_amount == D(order["total_tax_money"]["amount"] - levy) / 100
    assert inv.source_figures.payable_amount == D(order["total_money"]["amount"] - levy) / 100
    assert compare_source_figures(inv, t) is None


def test_a_consumption_tax_can_be_kept_as_a_zero_rated_charge():
    from invoicing.tax import compare_source_figures, compute_totals

    order = levy_order()
    inv = order_to_canonical(order, options=MappingOptions(levies="charge"))
    levy = inv.allowance_charges[-1]
    assert (levy.charge_indicator, levy.amount, levy.reason, levy.tax_category, levy.tax_rate) == (
        True, D("364.10"), "Consumption Tax 5%", ZERO_VAT, D("0"))
    t = compute_totals(inv)
    assert (t.tax_amount, t.payable_amount) == (D("546.15"), D(order["total_money"]["amount"]) / 100)
    assert compare_source_figures(inv, t) is None
    if importlib.util.find_spec("invoicing.documents") is not None:  # the UBL XSD and EN 16931 schematron pass
        from invoicing.canonical import Party
        from invoicing.documents import render

        inv.supplier = Party(name="Mama Put Lagos Ltd", tin="12345678-0001", street_name="12 Adeola Odeku Street",
                             email="accounts@mamaput.example.ng", telephone="+2348012345678",
                             city_name="Lagos", postal_zone="101241")
        inv.number, inv.irn = "INV0001", "INV0001-94ND90NR-20260502"
        assert render(inv, business_id="3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10").source_mismatch is None


def test_a_line_with_two_vat_taxes_is_still_refused_with_its_reason():
    with pytest.raises(SquareMappingError, match=r"more than one VAT tax \(Sales VAT, VAT\)"):
        order_to_canonical(levy_order(second_vat=True))


def test_a_refund_of_a_sale_with_a_consumption_tax_credits_what_was_invoiced(square):
    from invoicing.tax import compare_source_figures, compute_totals

    sb = square.app.sandbox
    body = {k: v for k, v in levy_order("INCLUSIVE").items() if k in ("line_items", "taxes", "discounts",
                                                                      "service_charges")}
    sale = sb.create_sale(order=body)
    invoice = order_to_canonical(sale["order"])
    refund = sb.refund_payment(payment_id=sale["payment"]["id"])
    note = return_to_canonical(sb.orders[refund["order_id"]], refund=sb.refunds[refund["id"]])
    assert [(x.quantity, x.unit_price, x.allowance_charges) for x in note.lines] == [
        (x.quantity, x.unit_price, x.allowance_charges) for x in invoice.lines]
    assert note.source_figures == invoice.source_figures and totals(note) == totals(invoice)
    assert compare_source_figures(note, compute_totals(note)) is None


def juice(price=320000, qty="1"):
    """The new item of an exchange, VAT additive (a CreateOrder body)."""
    return {"line_items": [{"uid": "juice", "name": "Orange Juice", "variation_name": "Large", "quantity": qty,
                            "base_price_money": m(price), "applied_taxes": [{"tax_uid": "vat"}]}],
            "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "LINE_ITEM"}]}


@pytest.mark.parametrize("price", [250000, 400000, 100000], ids=["even", "dearer", "cheaper"])
def test_an_exchange_invoices_its_new_items_and_credits_what_it_takes_back_on_its_sale(square, price):
    """Square records an exchange as one order with the returned items in
    `returns` (linked to their sale) and the new ones in `line_items`, its
    net_amounts the difference. Its invoice is the new items alone, checked
    against what it sold, not its net; what it takes back is a credit note
    of its own whose source is the order and the sale, refund or not."""
    sb = square.app.sandbox
    sale = sb.create_sale(order=vat_sale(qty="3", price=250000))
    returned = return_to_canonical(sb.orders[sb.refund_payment(
        payment_id=sale["payment"]["id"], line_items=[{"source_line_item_uid": "jollof", "quantity": "1"}],
        idempotency_key="reference")["order_id"]])  # one jollof, as a refund returns it: the reference
    ex = sb.create_exchange(order_id=sale["order"]["id"], returns=[{"source_line_item_uid": "jollof", "quantity": "1"}],
                            order=juice(price))
    order = ex["order"]
    assert bool(ex["payment"]) == (price == 400000) and bool(ex["refund"]) == (price == 100000)
    assert order["line_items"] and order["returns"] and credits_own_returns(order)
    assert returned_sales(order) == [sale["order"]["id"]]

    invoice = order_to_canonical(order)
    assert [(x.description, x.quantity) for x in invoice.lines] == [("Orange Juice, Large", D("1"))]
    assert invoice.source_figures.payable_amount == D(price) * D("1.075") / 100 != \
        D(order["net_amounts"]["total_money"]["amount"]) / 100
    assert totals(invoice) == (invoice.source_figures.tax_amount, invoice.source_figures.payable_amount)

    note = return_to_canonical(order, source_order_id=sale["order"]["id"])
    assert note.kind == CREDIT_NOTE and note.billing_reference is None
    assert (note.source.type, note.source.id) == ("return", f"{order['id']}:{sale['order']['id']}")
    assert [(x.description, x.quantity, x.unit_price) for x in note.lines] == [
        (x.description, x.quantity, x.unit_price) for x in returned.lines]
    assert note.source_figures == returned.source_figures
    tax, payable = totals(note)
    assert abs(tax - note.source_figures.tax_amount) <= D("0.01")
    assert abs(payable - note.source_figures.payable_amount) <= D("0.01")

    # The exchange's own row: what it sold, never "refunded" (its refund pays back another sale's items).
    f = order_figures(sb.get_order(order["id"], sb.default_merchant_id))
    assert (f.total_amount, f.refunded) == (D(price) * D("1.075") / 100, False)


def test_a_return_is_credited_from_its_refund_unless_none_pays_it_back(square):
    sb = square.app.sandbox
    sale = sb.create_sale(order=create_order_body())
    refund = sb.refund_payment(payment_id=sale["payment"]["id"],
                               line_items=[{"source_line_item_uid": "water", "quantity": "1"}])
    return_order = sb.get_order(refund["order_id"], sb.default_merchant_id)
    assert [r["status"] for r in return_order["refunds"]] == ["APPROVED"]  # the refund that pays it back
    assert not credits_own_returns(return_order) and not credits_own_returns(sale["order"])
    unpaid = {**return_order, "refunds": []}  # taken back, nothing paid back
    assert credits_own_returns(unpaid)
    assert return_to_canonical(unpaid).source.id == f"{return_order['id']}:{sale['order']['id']}"
    unlinked = {**unpaid, "returns": [{**return_order["returns"][0], "source_order_id": None}]}
    with pytest.raises(SquareMappingError, match="unlinked"):
        returned_sales(unlinked)


def test_a_refund_of_a_return_from_several_sales_pays_back_its_own_payments_sale(square):
    """A return order taking items back from two sales: a refund pays back
    the returns of the sale its payment paid for, and is credited with
    those alone; a payment none of the sales was paid with is refused. A
    return of one sale needs no payment."""
    sb = square.app.sandbox
    a = sb.create_sale(order=vat_sale(qty="3", price=250000))
    b = sb.create_sale(order=vat_sale(qty="2", price=100000), location_id=a["order"]["location_id"])
    order = sb.create_return(returns=[
        {"order_id": sale["order"]["id"], "line_items": [{"source_line_item_uid": "jollof", "quantity": "1"}]}
        for sale in (a, b)])["order"]
    assert returned_sales(order) == [a["order"]["id"], b["order"]["id"]]
    for sale, price in ((a, D("2500")), (b, D("1000"))):
        assert refunded_sale(order, sale["order"]["id"]) == sale["order"]["id"]
        note = return_to_canonical(order, refund={"id": "r"}, source_order_id=sale["order"]["id"])
        assert [(x.quantity, x.unit_price) for x in note.lines] == [(D("1"), price)]
        assert note.source_figures.payable_amount == price * D("1.075")
    for unknown in ("another-sale", None):
        with pytest.raises(SquareMappingError, match="2 sales"):
            refunded_sale(order, unknown)
    single = sb.get_order(sb.refund_payment(payment_id=a["payment"]["id"], amount=1000)["order_id"],
                          sb.default_merchant_id)
    assert refunded_sale(single) == a["order"]["id"]

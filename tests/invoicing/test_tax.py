from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing import canonical as c
from invoicing.tax import TaxSubtotal, compare_source_figures, compute_totals, round2
from invoicing.validation import validate_canonical
from tests.invoicing.fixtures import invoice
from tests.invoicing.fixtures.strategies import invoices

D = Decimal


def _inv(lines, allowance_charges=()):
    inv = invoice("pos_b2c.json")
    inv.lines = lines
    inv.allowance_charges = list(allowance_charges)
    return inv


def _line(qty, price, category=c.STANDARD_VAT, acs=()):
    rate = c.CATEGORY_RATES[category]
    return c.Line(description="x", quantity=D(qty), unit_price=D(price), tax_category=category, tax_rate=rate,
                  exemption_reason="exempt" if category == c.EXEMPTED else "", allowance_charges=list(acs))


@given(invoices(kind=c.INVOICE) | invoices(kind=c.CREDIT_NOTE))
@settings(max_examples=300, deadline=None)
def test_totals_reconcile_exactly(inv):
    assert validate_canonical(inv) == []
    t = compute_totals(inv)
    nets = t.line_net_amounts
    # Each line net is the half-up rounding of qty × price − allowances + charges.
    for line, net in zip(inv.lines, nets):
        allowances = sum((a.amount for a in line.allowance_charges if not a.charge_indicator), D(0))
        charges = sum((a.amount for a in line.allowance_charges if a.charge_indicator), D(0))
        assert net == round2(line.quantity * line.unit_price - allowances + charges)
    allowances = sum((a.amount for a in inv.allowance_charges if not a.charge_indicator), D(0))
    charges = sum((a.amount for a in inv.allowance_charges if a.charge_indicator), D(0))
    assert t.line_extension_amount == sum(nets, D(0))
    assert (t.allowance_total_amount, t.charge_total_amount) == (allowances, charges)
    assert t.tax_exclusive_amount == t.line_extension_amount - allowances + charges
    assert t.tax_amount == sum((s.tax_amount for s in t.tax_subtotals), D(0))
    assert t.tax_inclusive_amount == t.tax_exclusive_amount + t.tax_amount
    # The property of the brief: payable is exactly nets − allowances + charges + tax.
    assert t.payable_amount == sum(nets, D(0)) - allowances + charges + t.tax_amount
    # The breakdown covers the whole base, once per (category, rate), rounded once.
    assert sum((s.taxable_amount for s in t.tax_subtotals), D(0)) == t.tax_exclusive_amount
    keys = [(s.category, s.rate) for s in t.tax_subtotals]
    assert len(keys) == len(set(keys))
    for s in t.tax_subtotals:
        assert s.tax_amount == round2(s.taxable_amount * s.rate / 100)
        if s.category != c.STANDARD_VAT:
            assert s.tax_amount == 0
    for value in (t.line_extension_amount, t.tax_amount, t.payable_amount, *nets):
        assert value.as_tuple().exponent == -2


def test_vat_is_rounded_per_category_not_per_line():
    t = compute_totals(_inv([_line(1, "0.10"), _line(1, "0.10"), _line(1, "0.10")]))
    # Per line: 3 × round(0.0075) = 0.03. Per category: round(0.0225) = 0.02.
    assert t.tax_subtotals == [TaxSubtotal(c.STANDARD_VAT, D("7.5"), D("0.30"), D("0.02"))]
    assert t.tax_amount == D("0.02") and t.payable_amount == D("0.32")


def test_category_vat_rounds_half_up():
    # 0.60 × 7.5 % = 0.045 exactly: half-up gives 0.05 (banker's rounding would give 0.04).
    t = compute_totals(_inv([_line(1, "0.60")]))
    assert t.tax_amount == D("0.05")
    # 0.20 × 7.5 % = 0.015 → 0.02
    assert compute_totals(_inv([_line(2, "0.10")])).tax_amount == D("0.02")


def test_line_net_rounds_half_up_and_half_away_from_zero():
    t = compute_totals(_inv([_line(3, "0.335"), _line(-1, "0.005")]))
    assert t.line_net_amounts == [D("1.01"), D("-0.01")]  # 1.005 → 1.01; −0.005 → −0.01
    assert t.line_extension_amount == D("1.00")


def test_line_allowances_and_charges_enter_the_line_net():
    acs = [c.AllowanceCharge(False, D("10.00")), c.AllowanceCharge(True, D("2.50")), c.AllowanceCharge(False, D("0.50"))]
    t = compute_totals(_inv([_line("4", "25", acs=acs)]))
    assert t.line_net_amounts == [D("92.00")]
    assert (t.line_allowance_amounts, t.line_charge_amounts) == ([D("10.50")], [D("2.50")])
    assert t.allowance_total_amount == D("0.00")  # line ones are not document allowances


def test_document_allowances_and_charges_change_their_categorys_base():
    t = compute_totals(_inv(
        [_line(1, "100"), _line(1, "50", c.ZERO_VAT), _line(1, "30", c.EXEMPTED)],
        [c.AllowanceCharge(False, D("10.00")),  # STANDARD_VAT by default
         c.AllowanceCharge(True, D("5.00"), tax_category=c.ZERO_VAT, tax_rate=D(0))]))
    assert [(s.category, s.taxable_amount, s.tax_amount) for s in t.tax_subtotals] == [
        (c.STANDARD_VAT, D("90.00"), D("6.75")),
        (c.ZERO_VAT, D("55.00"), D("0.00")),
        (c.EXEMPTED, D("30.00"), D("0.00")),
    ]
    assert t.tax_subtotals[2].exemption_reason == "exempt"
    assert (t.line_extension_amount, t.allowance_total_amount, t.charge_total_amount) == (D("180.00"), D("10.00"), D("5.00"))
    assert (t.tax_exclusive_amount, t.tax_amount, t.tax_inclusive_amount, t.payable_amount) == (
        D("175.00"), D("6.75"), D("181.75"), D("181.75"))


def test_a_document_charge_alone_can_open_a_category():
    t = compute_totals(_inv([_line(1, "100", c.ZERO_VAT)], [c.AllowanceCharge(True, D("20.00"), reason="Tip")]))
    assert [(s.category, s.taxable_amount, s.tax_amount) for s in t.tax_subtotals] == [
        (c.ZERO_VAT, D("100.00"), D("0.00")), (c.STANDARD_VAT, D("20.00"), D("1.50"))]


def test_rates_written_differently_are_one_subtotal():
    a = _line(1, "10")
    b = _line(1, "10")
    b.tax_rate = D("7.50")
    assert len(compute_totals(_inv([a, b])).tax_subtotals) == 1


def test_fixture_totals():
    t = compute_totals(invoice())
    assert t.line_net_amounts == [D("36000.00"), D("3500.00"), D("17999.98")]
    assert (t.line_extension_amount, t.charge_total_amount, t.tax_exclusive_amount) == (
        D("57499.98"), D("2000.00"), D("59499.98"))
    assert (t.tax_amount, t.payable_amount) == (D("2850.00"), D("62349.98"))


@given(st.decimals(min_value=D("-0.01"), max_value=D("0.01"), places=2))
def test_source_figures_within_a_cent_agree(delta):
    inv = invoice()
    t = compute_totals(inv)
    inv.source_figures = c.SourceFigures(tax_amount=t.tax_amount + delta, payable_amount=t.payable_amount - delta)
    assert compare_source_figures(inv, t) is None


def test_source_figures_beyond_a_cent_are_flagged_with_both_figures():
    inv = invoice()
    t = compute_totals(inv)
    inv.source_figures = c.SourceFigures(tax_amount=D("2850.02"), payable_amount=D("62349.98"))
    assert compare_source_figures(inv, t) == {
        "ours": {"tax_amount": "2850.00", "payable_amount": "62349.98"},
        "source": {"tax_amount": "2850.02", "payable_amount": "62349.98"},
        "difference": {"tax_amount": "0.02", "payable_amount": "0.00"},
    }
    # Ours are untouched.
    assert t.tax_amount == D("2850.00")


def test_only_given_source_figures_are_compared():
    inv = invoice()
    t = compute_totals(inv)
    inv.source_figures = c.SourceFigures(payable_amount=D("60000"))
    assert compare_source_figures(inv, t) == {
        "ours": {"payable_amount": "62349.98"}, "source": {"payable_amount": "60000"},
        "difference": {"payable_amount": "-2349.98"}}
    inv.source_figures = c.SourceFigures()
    assert compare_source_figures(inv, t) is None

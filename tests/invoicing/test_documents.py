import json
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from invoicing import canonical as c
from invoicing.documents import Rendered, render, renumbered
from invoicing.firs.payload import payload_json
from invoicing.ubl.validator import validate_ubl
from invoicing.validation import InvoiceRuleError
from tests.invoicing.fixtures import invoice
from tests.invoicing.fixtures.strategies import invoices

BUSINESS_ID = "3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10"


@pytest.mark.parametrize("name", ["invoice_b2b.json", "credit_note.json", "pos_b2c.json"])
def test_render_returns_every_document(name):
    r = render(invoice(name), business_id=BUSINESS_ID)
    assert isinstance(r, Rendered)
    assert validate_ubl(r.ubl_xml) == []
    assert r.firs_payload["business_id"] == BUSINESS_ID
    assert r.firs_json == payload_json(r.firs_payload)
    # Both formats carry the same figures.
    payable = json.loads(r.firs_json, parse_float=Decimal)["legal_monetary_total"]["payable_amount"]
    assert payable == r.totals.payable_amount
    assert f">{r.totals.payable_amount}</cbc:PayableAmount>".encode() in r.ubl_xml
    assert r.source_mismatch is None


def test_source_mismatch_is_reported_not_applied():
    inv = invoice()
    inv.source_figures = c.SourceFigures(tax_amount=Decimal("2737.50"), payable_amount=Decimal("62237.48"))
    r = render(inv, business_id=BUSINESS_ID)
    assert r.source_mismatch["source"] == {"tax_amount": "2737.50", "payable_amount": "62237.48"}
    assert r.source_mismatch["ours"] == {"tax_amount": "2850.00", "payable_amount": "62349.98"}
    assert r.totals.tax_amount == Decimal("2850.00")


def test_every_failed_rule_at_once_canonical_and_en16931():
    inv = invoice()
    inv.currency = "XYZ"  # TP-01, and the UBL then fails BR-CL-03/BR-CL-04
    inv.lines[0].quantity = Decimal(0)  # TP-08
    inv.customer.telephone = "0803"  # TP-04
    with pytest.raises(InvoiceRuleError) as exc:
        render(inv, business_id=BUSINESS_ID)
    rules = {v.rule for v in exc.value.violations}
    assert {"TP-01", "TP-08", "TP-04", "BR-CL-04", "BR-CL-03"} <= rules
    paths = {v.path for v in exc.value.violations if v.rule.startswith("TP-")}
    assert {"currency", "lines[0].quantity", "customer.telephone"} <= paths


def test_unbuildable_invoice_still_lists_canonical_rules():
    inv = invoice()
    inv.lines[0].tax_category = "STAMP_DUTY"  # no UNCL5305 code: the UBL cannot be built
    inv.supplier.tin = ""
    with pytest.raises(InvoiceRuleError) as exc:
        render(inv, business_id=BUSINESS_ID)
    assert [(v.rule, v.path) for v in exc.value.violations] == [
        ("TP-02", "supplier.tin"), ("TP-05", "lines[0].tax_category")]


def test_en16931_rule_the_canonical_rules_do_not_cover_is_still_caught():
    inv = invoice()
    inv.payment_means[0].code = "99"  # looks like UNCL4461, is not in the list
    with pytest.raises(InvoiceRuleError) as exc:
        render(inv, business_id=BUSINESS_ID)
    assert [v.rule for v in exc.value.violations] == ["BR-CL-16"]


@pytest.mark.parametrize("name", ["invoice_b2b.json", "credit_note.json", "pos_b2c.json"])
def test_renumbered_is_byte_for_byte_a_fresh_render(name):
    """The freeze checks the documents built with a provisional number and
    IRN, then puts the allocated ones in their place: exactly what building
    them again would give."""
    import dataclasses

    base = invoice(name)
    prefix = "CRN" if base.kind == c.CREDIT_NOTE else "INV"
    provisional = dataclasses.replace(base, number=f"{prefix}000000", irn=f"{prefix}000000-94ND90NR-20240611")
    final = dataclasses.replace(base, number=f"{prefix}004217", irn=f"{prefix}004217-94ND90NR-20240611")
    checked = render(provisional, business_id=BUSINESS_ID)
    fresh = render(final, business_id=BUSINESS_ID)
    moved = renumbered(checked, number=(provisional.number, final.number), irn=(provisional.irn, final.irn))
    assert moved.ubl_xml == fresh.ubl_xml and moved.firs_json == fresh.firs_json
    assert moved.firs_payload == fresh.firs_payload and moved.ubl_xml != checked.ubl_xml
    # Not where expected (here: other provisional values): None, and the caller builds again.
    assert renumbered(checked, number=("INV999999", final.number), irn=(provisional.irn, final.irn)) is None
    assert renumbered(checked, number=(provisional.number, final.number), irn=("X", final.irn)) is None


@settings(max_examples=40, deadline=None)
@given(inv=invoices(), value=st.integers(min_value=1, max_value=999999))
def test_renumbered_matches_a_fresh_render_for_any_invoice(inv, value):
    import dataclasses

    provisional = dataclasses.replace(inv, number="INV000000", irn="INV000000-94ND90NR-20240611")
    final = dataclasses.replace(inv, number=f"INV{value:06d}", irn=f"INV{value:06d}-94ND90NR-20240611")
    checked = render(provisional, business_id=BUSINESS_ID, schematron=False)
    fresh = render(final, business_id=BUSINESS_ID, schematron=False)
    moved = renumbered(checked, number=(provisional.number, final.number), irn=(provisional.irn, final.irn))
    assert (moved.ubl_xml, moved.firs_json) == (fresh.ubl_xml, fresh.firs_json)


def test_render_many_gives_each_invoice_what_render_gives_it(monkeypatch):
    # The batch's documents are checked together (the schematrons one after
    # another); each still gets its own Rendered or its own rule failures.
    from invoicing import documents
    from invoicing.ubl import validator

    wrong_currency, unbuildable = invoice(), invoice()
    wrong_currency.currency = "XYZ"
    unbuildable.lines[0].tax_category = "STAMP_DUTY"
    batch = [invoice("invoice_b2b.json"), wrong_currency, invoice("pos_b2c.json"), unbuildable,
             invoice("credit_note.json")]
    alone = []
    for inv in batch:
        try:
            alone.append(render(inv, business_id=BUSINESS_ID))
        except InvoiceRuleError as exc:
            alone.append(exc)
    calls = []
    monkeypatch.setattr(documents, "schematron_violations",
                        lambda xml: calls.append(len(calls)) or validator.schematron_violations(xml))
    together = documents.render_many([(inv, BUSINESS_ID) for inv in batch])
    assert [type(o) for o in together] == [Rendered, InvoiceRuleError, Rendered, InvoiceRuleError, Rendered]
    for one, other in zip(alone, together):
        if isinstance(one, Rendered):
            assert (other.ubl_xml, other.firs_json, other.totals) == (one.ubl_xml, one.firs_json, one.totals)
        else:
            assert other.violations == one.violations
    assert len(calls) == 4  # every document built and XSD-valid, in one run; the unbuildable one has none

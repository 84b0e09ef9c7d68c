import datetime
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from invoicing import canonical as c
from invoicing.canonical import CANONICAL_SCHEMA, canonical_from_dict, canonical_to_dict
from invoicing.validation import InvoiceRuleError
from tests.invoicing.fixtures import invoice, load

DOC = Path(__file__).resolve().parents[2] / "docs" / "canonical-invoice.md"


@pytest.mark.parametrize("name", ["invoice_b2b.json", "credit_note.json", "pos_b2c.json"])
def test_fixture_round_trips(name):
    inv = invoice(name)
    data = canonical_to_dict(inv)
    assert canonical_from_dict(json.loads(json.dumps(data))) == inv


def test_parsed_values_are_exact_python_types():
    inv = invoice()
    assert inv.issue_date == datetime.date(2026, 11, 2)
    assert inv.issue_time == datetime.time(10, 15)
    assert inv.lines[0].quantity == Decimal("3") and isinstance(inv.lines[0].unit_price, Decimal)
    assert inv.lines[0].allowance_charges[0] == c.AllowanceCharge(
        charge_indicator=False, amount=Decimal("1500.00"), reason="Volume discount")
    assert inv.lines[1].tax_category == c.ZERO_VAT and inv.lines[1].tax_rate == Decimal("0")
    assert inv.payment_means == [c.PaymentMeans(code="30", due_date=datetime.date(2026, 12, 2), account_id="0123456789")]
    assert inv.is_b2b


def test_to_dict_is_json_safe_with_decimal_strings():
    data = canonical_to_dict(invoice())
    assert data["lines"][0]["unit_price"] == "12500.00"
    assert data["issue_date"] == "2026-11-02"
    assert "tax_category" not in data["lines"][0]["allowance_charges"][0]
    json.dumps(data)  # no Decimal, date or time left


def test_defaults_apply_to_omitted_fields():
    data = load()
    data["lines"] = [{"description": "Thing", "quantity": "1", "unit_price": "10"}]
    line = canonical_from_dict(data).lines[0]
    assert (line.tax_category, line.tax_rate, line.unit_code) == (c.STANDARD_VAT, Decimal("7.5"), "EA")


def test_every_problem_is_collected_with_a_dotted_path():
    data = load()
    data["issue_date"] = "2026-02-30"
    del data["lines"][2]["quantity"]
    data["lines"][1]["unit_price"] = "12,50"
    data["lines"][0]["allowance_charges"][0]["amount"] = "lots"
    data["customer"]["fax"] = "+234"
    data["kind"] = "receipt"
    with pytest.raises(InvoiceRuleError) as exc:
        canonical_from_dict(data)
    found = {(v.rule, v.path) for v in exc.value.violations}
    assert found == {
        ("TP-00", "issue_date"),
        ("TP-00", "lines[2].quantity"),
        ("TP-00", "lines[1].unit_price"),
        ("TP-00", "lines[0].allowance_charges[0].amount"),
        ("TP-00", "customer"),
        ("TP-00", "kind"),
    }
    assert exc.value.extra["violations"][0].keys() == {"rule", "message", "path"}


def test_missing_top_level_fields_are_named():
    with pytest.raises(InvoiceRuleError) as exc:
        canonical_from_dict({"kind": "invoice"})
    assert {v.path for v in exc.value.violations} == {"issue_date", "currency", "supplier", "lines", "source"}


def test_floats_are_refused_but_exact_numbers_accepted():
    data = load()
    data["lines"][0]["quantity"] = 0.1
    data["lines"][1]["quantity"] = 3
    data["lines"][2]["unit_price"] = Decimal("8999.99")
    with pytest.raises(InvoiceRuleError) as exc:
        canonical_from_dict(data)
    assert [(v.rule, v.path) for v in exc.value.violations] == [("TP-00", "lines[0].quantity")]
    data["lines"][0]["quantity"] = "0.1"
    inv = canonical_from_dict(data)
    assert inv.lines[1].quantity == Decimal(3)


def test_not_an_object():
    with pytest.raises(InvoiceRuleError) as exc:
        canonical_from_dict([1, 2])
    assert exc.value.violations[0].rule == "TP-00"


def test_invoice_kind_overrides_tin_inference():
    inv = invoice("pos_b2c.json")
    assert not inv.is_b2b
    inv.invoice_kind = c.B2G
    assert inv.is_b2b


def test_docs_show_the_schema_in_force():
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"### JSON Schema.*?```json\n(.*?)\n```", text, re.S).group(1)
    assert json.loads(block) == json.loads(json.dumps(CANONICAL_SCHEMA))


def test_docs_list_every_rule():
    from invoicing.validation import RULES

    text = DOC.read_text(encoding="utf-8")
    for rule, (_, says) in RULES.items():
        assert f"| {rule} |" in text and says in text

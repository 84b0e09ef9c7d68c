import datetime
from decimal import Decimal

import pytest

from invoicing import canonical as c
from invoicing.validation import RULES, InvoiceRuleError, RuleViolation, validate_canonical
from tests.invoicing.fixtures import invoice


@pytest.mark.parametrize("name", ["invoice_b2b.json", "credit_note.json", "pos_b2c.json"])
def test_fixtures_are_valid(name):
    assert validate_canonical(invoice(name)) == []


def _set(obj, attr, value):
    setattr(obj, attr, value)


# (case id, fixture, mutation, expected (rule, path) among the violations)
CASES = [
    ("currency-unknown", "invoice_b2b.json", lambda i: _set(i, "currency", "XYZ"), ("TP-01", "currency")),
    ("currency-lowercase", "invoice_b2b.json", lambda i: _set(i, "currency", "ngn"), ("TP-01", "currency")),
    ("supplier-no-tin", "invoice_b2b.json", lambda i: _set(i.supplier, "tin", ""), ("TP-02", "supplier.tin")),
    ("supplier-tin-short", "invoice_b2b.json", lambda i: _set(i.supplier, "tin", "1234"), ("TP-02", "supplier.tin")),
    ("b2b-customer-no-tin", "invoice_b2b.json",
     lambda i: (_set(i.customer, "tin", ""), _set(i, "invoice_kind", "B2B")), ("TP-03", "customer.tin")),
    ("customer-tin-too-long", "invoice_b2b.json", lambda i: _set(i.customer, "tin", "1" * 21), ("TP-03", "customer.tin")),
    ("b2g-without-customer", "pos_b2c.json", lambda i: _set(i, "invoice_kind", "B2G"), ("TP-03", "customer")),
    ("telephone-no-plus", "invoice_b2b.json", lambda i: _set(i.supplier, "telephone", "08012345678"),
     ("TP-04", "supplier.telephone")),
    ("customer-telephone-letters", "invoice_b2b.json", lambda i: _set(i.customer, "telephone", "+234-CALL-ME"),
     ("TP-04", "customer.telephone")),
    ("unknown-category", "invoice_b2b.json", lambda i: _set(i.lines[0], "tax_category", "REDUCED_VAT"),
     ("TP-05", "lines[0].tax_category")),
    ("doc-charge-unknown-category", "invoice_b2b.json",
     lambda i: _set(i.allowance_charges[0], "tax_category", "STAMP_DUTY"), ("TP-05", "allowance_charges[0].tax_category")),
    ("ten-percent-vat", "invoice_b2b.json", lambda i: _set(i.lines[0], "tax_rate", Decimal("10")),
     ("TP-06", "lines[0].tax_rate")),
    ("zero-rated-with-rate", "invoice_b2b.json", lambda i: _set(i.lines[1], "tax_rate", Decimal("7.5")),
     ("TP-06", "lines[1].tax_rate")),
    ("exempt-without-reason", "invoice_b2b.json", lambda i: _set(i.lines[2], "exemption_reason", " "),
     ("TP-07", "lines[2].exemption_reason")),
    ("exempt-doc-charge-without-reason", "invoice_b2b.json",
     lambda i: (_set(i.allowance_charges[0], "tax_category", c.EXEMPTED),
                _set(i.allowance_charges[0], "tax_rate", Decimal(0))), ("TP-07", "allowance_charges[0].exemption_reason")),
    ("zero-quantity", "invoice_b2b.json", lambda i: _set(i.lines[1], "quantity", Decimal("0.000")),
     ("TP-08", "lines[1].quantity")),
    ("negative-price", "invoice_b2b.json", lambda i: _set(i.lines[0], "unit_price", Decimal("-0.01")),
     ("TP-09", "lines[0].unit_price")),
    ("credit-note-no-reference", "credit_note.json", lambda i: _set(i, "billing_reference", None),
     ("TP-10", "billing_reference")),
    ("credit-note-reference-no-irn", "credit_note.json", lambda i: _set(i.billing_reference, "irn", ""),
     ("TP-10", "billing_reference.irn")),
    ("credit-note-reference-no-number", "credit_note.json", lambda i: _set(i.billing_reference, "number", ""),
     ("TP-10", "billing_reference.number")),
    ("credit-note-reference-no-date", "credit_note.json", lambda i: _set(i.billing_reference, "issue_date", None),
     ("TP-10", "billing_reference.issue_date")),
    ("no-lines", "invoice_b2b.json", lambda i: _set(i, "lines", []), ("TP-11", "lines")),
    ("negative-line-discount", "invoice_b2b.json",
     lambda i: _set(i.lines[0].allowance_charges[0], "amount", Decimal("-5")),
     ("TP-12", "lines[0].allowance_charges[0].amount")),
    ("three-decimal-charge", "invoice_b2b.json", lambda i: _set(i.allowance_charges[0], "amount", Decimal("2000.005")),
     ("TP-12", "allowance_charges[0].amount")),
    ("supplier-no-name", "invoice_b2b.json", lambda i: _set(i.supplier, "name", ""), ("TP-13", "supplier.name")),
    ("b2b-customer-no-name", "invoice_b2b.json", lambda i: _set(i.customer, "name", ""), ("TP-13", "customer.name")),
    ("country-alpha3", "invoice_b2b.json", lambda i: _set(i.supplier, "country", "NGA"), ("TP-14", "supplier.country")),
    ("country-not-assigned", "invoice_b2b.json", lambda i: _set(i.customer, "country", "QQ"), ("TP-14", "customer.country")),
    ("credit-transfer-no-account", "invoice_b2b.json", lambda i: _set(i.payment_means[0], "account_id", ""),
     ("TP-15", "payment_means[0].account_id")),
    ("bad-email", "invoice_b2b.json", lambda i: _set(i.customer, "email", "ap at chukwu"), ("TP-16", "customer.email")),
    ("no-description", "invoice_b2b.json", lambda i: _set(i.lines[1], "description", "  "), ("TP-17", "lines[1].description")),
    ("usd", "invoice_b2b.json", lambda i: _set(i, "currency", "USD"), ("TP-18", "currency")),
    ("due-before-issue", "invoice_b2b.json", lambda i: _set(i, "due_date", datetime.date(2026, 11, 1)), ("TP-19", "due_date")),
    ("original-after-credit-note", "credit_note.json",
     lambda i: _set(i.billing_reference, "issue_date", datetime.date(2026, 11, 11)), ("TP-19", "billing_reference.issue_date")),
    ("supplier-no-email", "pos_b2c.json", lambda i: _set(i.supplier, "email", ""), ("TP-21", "supplier.email")),
    ("b2b-customer-no-email", "invoice_b2b.json", lambda i: _set(i.customer, "email", " "), ("TP-21", "customer.email")),
    ("payment-means-text", "invoice_b2b.json", lambda i: _set(i.payment_means[0], "code", "cash"),
     ("TP-20", "payment_means[0].code")),
]


@pytest.mark.parametrize("fixture,mutate,expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_rule_fails_on_bad_input(fixture, mutate, expected):
    inv = invoice(fixture)
    mutate(inv)
    violations = validate_canonical(inv)
    assert expected in {(v.rule, v.path) for v in violations}, violations
    # Only the mutated rule fails (the fixture is otherwise valid).
    assert {v.rule for v in violations} == {expected[0]}


def test_every_rule_has_a_failing_input_test():
    tested = {case[3][0] for case in CASES}
    assert tested == set(RULES) - {"TP-00"}  # TP-00 is parsing: test_canonical.py


def test_messages_name_the_en16931_rule():
    inv = invoice()
    inv.lines[2].exemption_reason = ""
    (v,) = validate_canonical(inv)
    assert v == RuleViolation(rule="TP-07", message="an EXEMPTED amount needs an exemption reason (BR-E-10)",
                              path="lines[2].exemption_reason")


def test_all_violations_are_reported_together():
    inv = invoice()
    inv.supplier.tin = ""
    inv.lines[0].quantity = Decimal(0)
    inv.lines[1].unit_price = Decimal(-1)
    inv.customer.telephone = "0803"
    rules = [v.rule for v in validate_canonical(inv)]
    assert sorted(rules) == ["TP-02", "TP-04", "TP-08", "TP-09"]


def test_b2c_customer_without_tin_or_name_is_fine():
    inv = invoice("pos_b2c.json")
    inv.customer = c.Party(name="")
    assert validate_canonical(inv) == []


def test_negative_quantity_is_allowed():
    inv = invoice()
    inv.lines[1].quantity = Decimal("-2")
    assert validate_canonical(inv) == []


def test_invoice_rule_error_carries_every_violation():
    vs = [RuleViolation("TP-01", "m1", "currency"), RuleViolation("TP-08", "m2", "lines[0].quantity")]
    err = InvoiceRuleError(vs)
    assert err.violations == vs
    assert err.extra["violations"][1] == {"rule": "TP-08", "message": "m2", "path": "lines[0].quantity"}
    assert "TP-01 currency: m1" in err.message

"""Properties of the sandbox's invoice check, without HTTP: any body whose totals
agree with its lines passes, and moving any total by one cent fails."""
import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.firs.sandbox.state import Business
from invoicing.firs.sandbox.validation import check_invoice, path, uuid_problem

from ..samples import modified, sample_invoice

BUSINESS = Business(
    business_id="3ece9605-90b3-419d-ba52-7aa1dfd2f18f", entity_id="516e2c3b-e597-4a4a-96fa-4b10ed5148f1",
    service_id="59854B81", tin="31569955-0001", name="Dangote Test Ltd", email="a@b.ng", password="x",
    api_key="k", api_secret="s", crypto_keys_json="{}", private_key_pem=b"", certificate="c",
)

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999.99"), places=2)
quantity = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3)
category = st.sampled_from([("STANDARD_VAT", Decimal("7.5")), ("ZERO_VAT", Decimal("0")),
                            ("EXEMPTED", Decimal("0")), ("LOCAL_SALES_TAX", Decimal("2.3"))])
line = st.builds(lambda q, p, c: ("Item", q, p, c[0], c[1]), quantity, money, category)
invoices = st.builds(
    lambda lines, number, date: sample_invoice(BUSINESS, invoice_number=number, issue_date=date, lines=lines),
    st.lists(line, min_size=1, max_size=8),
    st.text(alphabet="ABCXYZ0123456789", min_size=1, max_size=12),
    st.dates(min_value=datetime.date(2024, 1, 1), max_value=datetime.date(2030, 12, 31)),
)
TOTALS = ["line_extension_amount", "tax_exclusive_amount", "tax_inclusive_amount", "payable_amount"]


@settings(max_examples=150, deadline=None)
@given(body=invoices)
def test_consistent_invoices_pass(body):
    assert check_invoice(body, BUSINESS) == []


@settings(max_examples=150, deadline=None)
@given(body=invoices, field=st.sampled_from(TOTALS), delta=st.sampled_from([Decimal("0.01"), Decimal("-0.01")]))
def test_a_cent_off_any_total_fails(body, field, delta):
    def nudge(b):
        b["legal_monetary_total"][field] += delta

    fields = [v.field for v in check_invoice(modified(body, nudge), BUSINESS)]
    assert fields, "a total one cent off must be refused"
    assert all(f.startswith("invoicerequest.invoice.legalmonetarytotal.") for f in fields)


@settings(max_examples=100, deadline=None)
@given(body=invoices, delta=st.sampled_from([Decimal("0.01"), Decimal("-0.01")]))
def test_a_cent_off_the_tax_total_fails(body, delta):
    def nudge(b):
        b["tax_total"][0]["tax_amount"] += delta

    assert path("tax_total[0]", "tax_amount") in [v.field for v in check_invoice(modified(body, nudge), BUSINESS)]


def test_field_paths_follow_firs_spelling():
    assert path("tax_total[0]", "tax_subtotal[0]", "tax_category", "id") == \
        "invoicerequest.invoice.taxtotal[0].taxsubtotal[0].taxcategory.id"


@pytest.mark.parametrize("value, problem", [
    ("31569955-0001", "invalid UUID length: 13"),
    ("", "invalid UUID length: 0"),
    ("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "invalid UUID format"),
    ("3ece9605-90b3-419d-ba52-7aa1dfd2f18f", None),
    ("3ece960590b3419dba527aa1dfd2f18f", None),
])
def test_uuid_problems_use_gos_wording(value, problem):
    assert uuid_problem(value) == problem


def test_id_party_needs_no_address():
    body = sample_invoice(BUSINESS)
    del body["accounting_customer_party"]["postal_address"]
    assert [v.field for v in check_invoice(body, BUSINESS)] == [
        "invoicerequest.invoice.accountingcustomerparty.postaladdress"]
    body["accounting_customer_party"]["id"] = "a-party-id"
    assert check_invoice(body, BUSINESS) == []


def test_credit_note_with_billing_reference():
    body = sample_invoice(BUSINESS, invoice_type_code="380")
    body["billing_reference"] = [{"irn": "INV001-59854B81-20250101", "issue_date": "2025-01-01"}]
    assert check_invoice(body, BUSINESS) == []
    body["billing_reference"] = [{"irn": "INV001-59854B81-20250101"}]
    assert [v.details for v in check_invoice(body, BUSINESS)] == [
        "invoicerequest.invoice.billingreference[0].issuedate is required"]


def _walk_in(body):
    body["accounting_customer_party"] = {"party_name": "Walk-in customer", "tin": "", "email": "",
                                         "postal_address": {"country": "NG"}}
    return body


def test_b2c_walk_in_customer_needs_no_tin_or_email():
    body = _walk_in(sample_invoice(BUSINESS))
    body["invoice_kind"] = "B2C"
    assert check_invoice(body, BUSINESS) == []


def test_b2b_and_unstated_kind_still_need_the_customer_tin_and_email():
    for kind in ("B2B", None):
        body = _walk_in(sample_invoice(BUSINESS))
        if kind:
            body["invoice_kind"] = kind
        assert sorted(v.details for v in check_invoice(body, BUSINESS)) == [
            "invoicerequest.invoice.accountingcustomerparty.email is required",
            "invoicerequest.invoice.accountingcustomerparty.tin is required"]


def test_b2c_never_relaxes_the_supplier_or_a_short_tin():
    body = _walk_in(sample_invoice(BUSINESS))
    body["invoice_kind"] = "B2C"
    body["accounting_supplier_party"]["tin"] = ""
    body["accounting_customer_party"]["tin"] = "123"
    assert sorted(v.details for v in check_invoice(body, BUSINESS)) == [
        "invoicerequest.invoice.accountingcustomerparty.tin must be at least 5 characters",
        "invoicerequest.invoice.accountingsupplierparty.tin is required"]


def test_unknown_invoice_kind_is_refused():
    body = sample_invoice(BUSINESS)
    body["invoice_kind"] = "B2X"
    assert [v.details for v in check_invoice(body, BUSINESS)] == [
        "invoicerequest.invoice.invoicekind must be one of B2B, B2G, B2C"]

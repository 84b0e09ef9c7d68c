import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing.firs.irn import IrnParts, build_irn, irn_template, matches_template, parse_irn, validate_irn
from taxpoynt.errors import ApplicationError

D = datetime.date(2024, 6, 11)


def test_build_irn_follows_the_firs_format():
    assert build_irn(invoice_number="INV001", service_id="94ND90NR", issue_date=D) == "INV001-94ND90NR-20240611"


@pytest.mark.parametrize("number", ["INV-001", "INV 001", "INV/001", "", "ÍNV1", "INV_1", None, 17])
def test_invoice_number_must_be_letters_and_digits(number):
    with pytest.raises(ApplicationError, match="letters and digits only"):
        build_irn(invoice_number=number, service_id="94ND90NR", issue_date=D)


@pytest.mark.parametrize("service_id", ["94ND90N", "94ND90NRX", "94ND-0NR", "", None])
def test_service_id_must_be_eight_alphanumerics(service_id):
    with pytest.raises(ApplicationError, match="exactly 8 letters or digits"):
        build_irn(invoice_number="INV001", service_id=service_id, issue_date=D)


def test_issue_date_must_be_a_date():
    with pytest.raises(ApplicationError, match="not a date"):
        build_irn(invoice_number="INV001", service_id="94ND90NR", issue_date="2024-06-11")


def test_parse_irn_returns_the_parts():
    assert parse_irn("ITW001-F3A3A0CF-20240619") == IrnParts("ITW001", "F3A3A0CF", datetime.date(2024, 6, 19))


@pytest.mark.parametrize("irn", ["ITW001-F3A3A0CF", "ITW-001-F3A3A0CF-20240619", "ITW001-F3A3A0C-20240619",
                                 "ITW001-F3A3A0CF-2024061", "", "ITW001_F3A3A0CF_20240619"])
def test_parse_irn_refuses_malformed(irn):
    with pytest.raises(ApplicationError, match="malformed"):
        parse_irn(irn)


def test_parse_irn_refuses_impossible_dates():
    with pytest.raises(ApplicationError, match="impossible date"):
        parse_irn("ITW001-F3A3A0CF-20241340")


def test_validate_irn_checks_expectations():
    irn = "ITW001-F3A3A0CF-20240619"
    assert validate_irn(irn, service_id="F3A3A0CF", issue_date=datetime.date(2024, 6, 19), invoice_number="ITW001")
    with pytest.raises(ApplicationError, match="service id"):
        validate_irn(irn, service_id="59854B81")
    with pytest.raises(ApplicationError, match="issued 2024-06-20"):
        validate_irn(irn, issue_date=datetime.date(2024, 6, 20))
    with pytest.raises(ApplicationError, match="invoice number"):
        validate_irn(irn, invoice_number="ITW002")


def test_template():
    template = irn_template("59854B81")
    assert template == "{{invoice_id}}-59854B81-{{YYYYMMDD}}"
    assert matches_template("INV9-59854B81-20250101", template)
    assert not matches_template("INV9-59854B82-20250101", template)
    assert not matches_template("INV-9-59854B81-20250101", template)
    assert not matches_template("INV9-59854B81-2025011", template)


@given(
    number=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=30),
    service=st.text(alphabet="ABCDEF0123456789", min_size=8, max_size=8),
    date=st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2099, 12, 31)),
)
def test_build_then_parse_round_trips(number, service, date):
    irn = build_irn(invoice_number=number, service_id=service, issue_date=date)
    assert parse_irn(irn) == IrnParts(number, service, date)
    assert matches_template(irn, irn_template(service))

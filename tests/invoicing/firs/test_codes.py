from decimal import Decimal

import pycountry

from invoicing.firs import codes


def test_firs_invoice_types_are_not_untdid():
    assert codes.INVOICE_TYPES["380"] == "Credit Note"
    assert codes.INVOICE_TYPES["381"] == "Commercial Invoice"
    assert len(codes.INVOICE_TYPES) == 20
    assert codes.CREDIT_NOTE_TYPE == "380" and codes.COMMERCIAL_INVOICE_TYPE == "381"


def test_recorded_lists():
    assert len(codes.CURRENCIES) == 118 and codes.CURRENCIES["NGN"] == "Nigerian Naira"
    assert codes.SERVICE_CODES["0112"] == "Growing of rice"
    assert "2915.3100" in codes.VAT_EXEMPT_HS_CODES


def test_countries_are_iso_3166():
    assert set(codes.COUNTRIES) == {c.alpha_2 for c in pycountry.countries}
    assert codes.COUNTRIES["NG"] == "Nigeria"


def test_standard_vat_is_7_5_and_canonical_categories_exist():
    assert codes.TAX_CATEGORIES["STANDARD_VAT"][1] == Decimal("7.5")
    assert {"STANDARD_VAT", "ZERO_VAT", "EXEMPTED"} <= set(codes.TAX_CATEGORIES)


def test_every_endpoint_sits_under_the_prefix_and_resources_resolve():
    assert all(path.startswith("/") for _, path in codes.ENDPOINTS.values())
    for name in codes.RESOURCE_NAMES:
        assert codes.resource(name)
    assert codes.PRODUCTION_BASE_URL is None  # UNCONFIRMED: never guessed

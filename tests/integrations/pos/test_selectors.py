"""POS selectors: filters, analytics in SQL, time zones, tenancy."""
import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from integrations.pos import selectors
from integrations.pos.models import Location, Transaction
from invoicing.models import InvoiceLine
from tests import factories

LAGOS = ZoneInfo("Africa/Lagos")


@pytest.fixture
def shop(make_user, make_org):
    user = make_user()
    org = make_org(owner=user)
    conn = factories.connection(org, vendor="square", kind="pos")
    loc = Location.objects.create(organization=org, connection=conn, external_id="L1", name="Ikeja")
    return user, org, conn, loc


def sale(org, conn, loc, when, total, status=Transaction.Status.COMPLETED, n=[0]):
    n[0] += 1
    return Transaction.objects.create(organization=org, connection=conn, location=loc, external_id=f"T{n[0]}",
                                      status=status, occurred_at=when, total_amount=Decimal(total), currency="NGN")


@pytest.mark.django_db
def test_transaction_volume_buckets_by_lagos_day(shop):
    user, org, conn, loc = shop
    # 23:30 UTC on the 1st is 00:30 on the 2nd in Lagos (UTC+1).
    sale(org, conn, loc, datetime.datetime(2026, 11, 1, 23, 30, tzinfo=datetime.timezone.utc), "100.00")
    sale(org, conn, loc, datetime.datetime(2026, 11, 2, 9, 0, tzinfo=LAGOS), "50.50")
    sale(org, conn, loc, datetime.datetime(2026, 11, 1, 9, 0, tzinfo=LAGOS), "10.00")
    sale(org, conn, loc, datetime.datetime(2026, 11, 1, 10, 0, tzinfo=LAGOS), "999.00", status="open")
    rows = selectors.transaction_volume(user=user)
    assert [(r["bucket"][:10], r["count"], r["total"]) for r in rows] == [
        ("2026-11-01", 1, Decimal("10.00")), ("2026-11-02", 2, Decimal("150.50"))]


@pytest.mark.django_db
def test_peak_hours_matrix_and_busiest(shop):
    user, org, conn, loc = shop
    monday_noon = datetime.datetime(2026, 11, 2, 12, 15, tzinfo=LAGOS)  # 2026-11-02 is a Monday
    for minutes in range(3):
        sale(org, conn, loc, monday_noon + datetime.timedelta(minutes=minutes), "1.00")
    sale(org, conn, loc, datetime.datetime(2026, 11, 7, 18, 0, tzinfo=LAGOS), "1.00")  # Saturday
    result = selectors.peak_hours(user=user)
    assert result["matrix"][0][12] == 3 and result["matrix"][5][18] == 1
    assert sum(map(sum, result["matrix"])) == 4
    assert result["busiest"] == {"weekday": 1, "hour": 12, "count": 3}


@pytest.mark.django_db
def test_top_items_sums_pos_invoice_lines_only(shop, make_org):
    user, org, conn, loc = shop
    crm = factories.connection(org, vendor="hubspot", kind="crm")
    for _ in range(2):
        inv = factories.invoice(org, conn)  # POS invoice with one "Widget" line of 100.00
        InvoiceLine.objects.create(invoice=inv, position=2, description="Latte", quantity=Decimal("3"),
                                   unit_price=Decimal("5"), line_extension_amount=Decimal("15.00"),
                                   tax_category="STANDARD_VAT", tax_rate=Decimal("7.5"))
    factories.invoice(org, crm)  # CRM invoice: not a POS item
    rows = selectors.top_items(user=user)
    assert [(r["item"], r["quantity"], r["net_amount"], r["invoices"]) for r in rows] == [
        ("Widget", Decimal("2"), Decimal("200.00"), 2), ("Latte", Decimal("6"), Decimal("30.00"), 2)]


@pytest.mark.django_db
def test_top_items_by_store_and_vendor(shop):
    """`location` keeps the items sold at that store; `vendor` those of that POS."""
    user, org, conn, loc = shop
    other_store = Location.objects.create(organization=org, connection=conn, external_id="L2", name="Lekki")
    toast = factories.connection(org, vendor="toast", kind="pos")
    for store, connection, item in ((loc, conn, "Latte"), (other_store, conn, "Suya"), (None, toast, "Zobo")):
        inv = factories.invoice(org, connection)
        InvoiceLine.objects.filter(invoice=inv).update(description=item)
        txn = sale(org, connection, store, datetime.datetime(2026, 11, 2, 9, tzinfo=LAGOS), "100.00")
        Transaction.objects.filter(pk=txn.pk).update(invoice=inv)

    def items(**filters):
        return [r["item"] for r in selectors.top_items(user=user, filters=filters)]

    assert sorted(items()) == ["Latte", "Suya", "Zobo"]
    assert items(location=loc.pk) == ["Latte"] and items(location=other_store.pk) == ["Suya"]
    assert items(vendor="toast") == ["Zobo"] and sorted(items(vendor="square")) == ["Latte", "Suya"]


@pytest.mark.django_db
def test_transaction_filters(shop):
    user, org, conn, loc = shop
    t1 = sale(org, conn, loc, datetime.datetime(2026, 11, 2, 9, tzinfo=LAGOS), "10.00")
    sale(org, conn, loc, datetime.datetime(2026, 11, 3, 9, tzinfo=LAGOS), "500.00")
    assert list(selectors.transaction_list(user=user, filters={"amount_max": Decimal("20")})) == [t1]
    assert list(selectors.transaction_list(
        user=user, filters={"occurred_to": datetime.datetime(2026, 11, 3, tzinfo=LAGOS)})) == [t1]
    assert selectors.transaction_list(user=user, filters={"invoiced": True}).count() == 0

import datetime
from decimal import Decimal

import pytest

from integrations.crm import analytics
from integrations.crm.models import Deal
from tests import factories


def deal(org, conn, status, close, amount="100.00", stage="", n=[0]):
    n[0] += 1
    return Deal.objects.create(organization=org, connection=conn, external_id=f"D{n[0]}", status=status,
                               close_date=close, amount=Decimal(amount), stage=stage or status, pipeline="default")


@pytest.mark.django_db
def test_conversion_rate_per_month_and_tenancy(make_user, make_org):
    user = make_user()
    org, other = make_org(owner=user), make_org()
    conn, other_conn = factories.connection(org), factories.connection(other)
    for status in ("won", "won", "won", "lost"):
        deal(org, conn, status, datetime.date(2026, 10, 5))
    deal(org, conn, "lost", datetime.date(2026, 11, 1))
    deal(org, conn, "open", datetime.date(2026, 11, 1))  # not closed: not counted
    deal(other, other_conn, "won", datetime.date(2026, 11, 1))  # another tenant
    rows = analytics.conversion_rates(user=user)
    assert [(r["period"], r["won"], r["lost"], r["rate"]) for r in rows] == [
        ("2026-10", 3, 1, Decimal("75.0")), ("2026-11", 0, 1, Decimal("0.0"))]
    assert rows[0]["won_amount"] == Decimal("300.00")


@pytest.mark.django_db
def test_revenue_pipeline_sums_open_deals_by_stage(make_user, make_org):
    user = make_user()
    org = make_org(owner=user)
    conn = factories.connection(org)
    deal(org, conn, "open", None, "1000.00", stage="proposal")
    deal(org, conn, "open", None, "250.50", stage="proposal")
    deal(org, conn, "open", None, "99.00", stage="qualified")
    deal(org, conn, "won", None, "5000.00", stage="closedwon")
    rows = analytics.revenue_pipeline(user=user)
    assert [(r["stage"], r["count"], r["amount"]) for r in rows] == [
        ("proposal", 2, Decimal("1250.50")), ("qualified", 1, Decimal("99.00"))]

import datetime
from zoneinfo import ZoneInfo

import pytest

from integrations.pos.models import Location, Transaction
from tests import factories


@pytest.fixture
def two_shops(make_user, make_org):
    alice = make_user()
    org_a, org_b = make_org(owner=alice), make_org()
    for org, n in ((org_a, 2), (org_b, 5)):
        conn = factories.connection(org, vendor="square", kind="pos")
        loc = Location.objects.create(organization=org, connection=conn, external_id="L", name="Shop")
        for i in range(n):
            Transaction.objects.create(organization=org, connection=conn, location=loc, external_id=f"T{i}",
                                       status="completed", total_amount="10.00",
                                       occurred_at=datetime.datetime(2026, 11, 2, 12, i, tzinfo=ZoneInfo("Africa/Lagos")))
    return alice


@pytest.mark.django_db
def test_analytics_count_only_the_callers_organization(api_client, two_shops):
    api_client.force_authenticate(two_shops)
    volume = api_client.get("/api/v1/pos/analytics/transaction-volume").json()["results"]
    assert [(r["count"], r["total"]) for r in volume] == [(2, "20.00")]
    peaks = api_client.get("/api/v1/pos/analytics/peak-hours").json()
    assert peaks["busiest"] == {"weekday": 1, "hour": 12, "count": 2}
    assert api_client.get("/api/v1/pos/transactions").json()["results"].__len__() == 2


@pytest.mark.django_db
def test_bad_filters_are_400_with_the_field_named(api_client, two_shops):
    api_client.force_authenticate(two_shops)
    resp = api_client.get("/api/v1/pos/transactions", {"status": "stolen"})
    assert resp.status_code == 400 and "status" in resp.json()["errors"]
    resp = api_client.get("/api/v1/pos/analytics/transaction-volume",
                          {"occurred_from": "2026-11-03T00:00:00Z", "occurred_to": "2026-11-01T00:00:00Z"})
    assert resp.status_code == 400 and "occurred_to" in resp.json()["errors"]
    assert api_client.get("/api/v1/pos/analytics/top-items", {"limit": 0}).status_code == 400

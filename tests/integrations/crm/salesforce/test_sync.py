"""Salesforce delta sync over the sandbox (real sockets): won opportunities →
one invoice each, paging through nextRecordsUrl with a checkpoint per page,
resume after a crash (also when the query locator expired), limit exceeded."""
import pytest

from integrations.connections.http import RateLimited
from integrations.connections.models import Connection
from integrations.connections.sync import HISTORICAL, sync_run
from integrations.crm.models import Deal
from invoicing.models import Invoice

from .wiring import seeded_won, sf, sf_connection  # noqa: F401

pytestmark = pytest.mark.django_db


def _win(sf, opp_id):
    sf.app.sandbox.update_opportunity(opp_id, StageName="Closed Won")


def test_won_opportunity_becomes_one_invoice_with_mapped_tin(sf, sf_connection, seeded_won):
    opp = seeded_won["opportunities"][0]["Id"]
    assert sync_run(connection_id=sf_connection.pk, mode=HISTORICAL).complete
    assert not Invoice.objects.filter(source_system="salesforce").exists()  # not won yet
    _win(sf, opp)
    result = sync_run(connection_id=sf_connection.pk)
    assert result.complete and result.records == 1
    invoice = Invoice.objects.get(source_system="salesforce", source_id=opp)
    assert invoice.customer_tin == "12345678-0001" and invoice.currency == "NGN"
    # 10 × 250 000 less 10 % + 2 × 1 200 000
    assert str(invoice.tax_exclusive_amount) == "4650000.00"
    assert sync_run(connection_id=sf_connection.pk, mode=HISTORICAL).complete
    assert Invoice.objects.filter(source_system="salesforce").count() == 1
    sf_connection.refresh_from_db()
    assert sf_connection.settings["api_usage"]["used"] > 0


def test_the_first_delta_starts_at_the_connection(sf, sf_connection):
    """Opportunities won well before the seller connected are the historical
    import's (when asked for), never invoiced unasked by the first delta run."""
    import datetime

    from integrations.connections.models import Connection
    from integrations.crm.salesforce.provider import SYNC_OVERLAP_SECONDS

    ids = _many_won(sf, 2)
    Connection.objects.filter(pk=sf_connection.pk).update(  # connected after they were won, past the overlap
        created_at=sf_connection.created_at + datetime.timedelta(seconds=SYNC_OVERLAP_SECONDS + 5))
    first = sync_run(connection_id=sf_connection.pk)
    assert first.complete and first.records == 0
    assert not Invoice.objects.filter(source_system="salesforce").exists()
    assert sync_run(connection_id=sf_connection.pk, mode=HISTORICAL).complete
    assert sorted(Invoice.objects.filter(source_system="salesforce").values_list("source_id", flat=True)) == sorted(ids)


def _many_won(sf, n):
    box = sf.app.sandbox
    accounts = [{"Name": f"Buyer {i}", "TIN__c": f"1000000{i}-0001", "BillingCountry": "NG"} for i in range(n)]
    opps = [{"Name": f"Deal {i}", "account": i, "StageName": "Closed Won", "CloseDate": "2026-05-02",
             "Amount": "1000.00"} for i in range(n)]
    return [o["Id"] for o in box.seed(accounts=accounts, opportunities=opps)["opportunities"]]


def test_pages_follow_next_records_url_with_checkpoint_and_resume_after_crash(sf, sf_connection, monkeypatch):
    ids = _many_won(sf, 7)  # batch_size 3 → 3 pages
    from integrations.crm.salesforce import sync as sf_sync

    calls = {"n": 0}
    original = sf_sync.SalesforceOpportunitySync.fetch_page

    def crash_on_third(self, state):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return original(self, state)

    monkeypatch.setattr(sf_sync.SalesforceOpportunitySync, "fetch_page", crash_on_third)
    with pytest.raises(RuntimeError):
        sync_run(connection_id=sf_connection.pk, mode=HISTORICAL)
    conn = Connection.objects.get(pk=sf_connection.pk)
    assert conn.sync_checkpoint["state"]["next"]  # a nextRecordsUrl kept
    assert Deal.objects.filter(connection=conn).count() == 6
    monkeypatch.setattr(sf_sync.SalesforceOpportunitySync, "fetch_page", original)
    assert sync_run(connection_id=conn.pk).complete
    assert sorted(Invoice.objects.filter(source_system="salesforce").values_list("source_id", flat=True)) == sorted(ids)


def test_expired_query_locator_restarts_after_the_last_record(sf, sf_connection, monkeypatch):
    ids = _many_won(sf, 7)
    assert sync_run(connection_id=sf_connection.pk, mode=HISTORICAL, max_pages=1).pages == 1
    conn = Connection.objects.get(pk=sf_connection.pk)
    state = conn.sync_checkpoint["state"]
    state["next"] = state["next"].rsplit("/", 1)[0] + "/01gBOGUS-3"  # an expired locator
    conn.sync_checkpoint = {**conn.sync_checkpoint, "state": state}
    conn.save()
    assert sync_run(connection_id=conn.pk).complete
    assert Invoice.objects.filter(source_system="salesforce").count() == len(ids)


def test_request_limit_exceeded_keeps_checkpoint_and_records_usage(sf, sf_connection, client):
    _many_won(sf, 4)
    store = sf.app.sandbox.store
    store.daily_limit = store.api_usage + 1  # one more call, then REQUEST_LIMIT_EXCEEDED
    with pytest.raises(RateLimited) as caught:
        sync_run(connection_id=sf_connection.pk, mode=HISTORICAL)
    assert caught.value.retry_after >= 300
    conn = Connection.objects.get(pk=sf_connection.pk)
    assert conn.settings["api_usage"]["limit_exceeded"] is True
    assert conn.sync_checkpoint["state"]["next"]
    client.force_login(sf_connection.owner)
    page = client.get(f"/dashboard/connections/{conn.pk}").content.decode()
    assert f"{store.daily_limit} API requests" in page and "limit exceeded" in page
    store.daily_limit = 100000
    assert sync_run(connection_id=conn.pk).complete
    assert Invoice.objects.filter(source_system="salesforce").count() == 4


def test_expired_session_is_refreshed_with_a_new_jwt_and_retried(sf, sf_connection, seeded_won):
    _win(sf, seeded_won["opportunities"][0]["Id"])
    from integrations.connections.oauth import connection_credentials

    before = connection_credentials(sf_connection)["access_token"]
    sf.app.sandbox.store.revoke(before)
    assert sync_run(connection_id=sf_connection.pk, mode=HISTORICAL).complete
    conn = Connection.objects.get(pk=sf_connection.pk)
    assert connection_credentials(conn)["access_token"] != before
    assert conn.status == Connection.Status.CONNECTED
    assert Invoice.objects.filter(source_system="salesforce").count() == 1


def test_refused_query_is_shown_and_the_run_continues_once_the_map_is_fixed(sf, sf_connection, seeded_won):
    from integrations.connections.services import connection_update_config
    from integrations.crm.salesforce.client import SalesforceApiError

    _win(sf, seeded_won["opportunities"][0]["Id"])
    connection_update_config(connection=sf_connection, trigger_rule={},
                             field_map={"customer.email": "account.No_Such_Field__c"})
    with pytest.raises(SalesforceApiError):
        sync_run(connection_id=sf_connection.pk, mode=HISTORICAL)
    conn = Connection.objects.get(pk=sf_connection.pk)
    assert conn.status == Connection.Status.ERROR
    assert "Salesforce refused the sync query" in conn.last_error and "No_Such_Field__c" in conn.last_error
    connection_update_config(connection=conn, trigger_rule={}, field_map={"customer.email": "account.Email__c"})
    assert sync_run(connection_id=conn.pk).complete
    assert Invoice.objects.filter(source_system="salesforce").count() == 1

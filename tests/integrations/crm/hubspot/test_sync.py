"""HubSpot delta sync against the sandbox: windowed search with `after`,
per-page checkpoints (resume after a crash mid-page), the 10 000-result cap
(window splitting, same-timestamp keyset), 429 handling, progress."""
import json

import pytest

import integrations.crm.services as crm_services
from integrations.connections.http import RateLimited
from integrations.connections.models import Connection, VendorExchange
from integrations.connections.sync import DELTA, HISTORICAL, sync_run
from integrations.connections.tasks import sync_connection
from integrations.crm.hubspot.client import HubSpotClient
from integrations.crm.hubspot.provider import CRM_OBJECTS_PATH, CRM_SEARCH_PATH
from integrations.crm.hubspot.sync import HubSpotDealSync
from integrations.crm.models import Deal
from invoicing.models import Invoice

DEALS_PATH = CRM_OBJECTS_PATH.format(object_type="deals")
DEALS_SEARCH = CRM_SEARCH_PATH.format(object_type="deals")


@pytest.fixture(autouse=True)
def small_pages(monkeypatch, sandbox):
    monkeypatch.setattr(HubSpotDealSync, "page_limit", 10)
    monkeypatch.setattr(HubSpotDealSync, "index_lag_ms", 0)
    sandbox.set_limits(search_per_second=1000, ten_secondly=100_000)


@pytest.fixture
def sleeps(monkeypatch):
    waited = []
    monkeypatch.setattr("integrations.connections.http.time.sleep", waited.append)
    return waited


def _searches():
    rows = VendorExchange.objects.filter(url__endswith=DEALS_SEARCH).order_by("id")
    return [json.loads(r.request_body) for r in rows]


@pytest.mark.django_db
def test_historical_import_pages_and_records_progress(hubspot_connection, sandbox):
    sandbox.generate_deals(count=25, stage="contractsent", modified_start="2026-01-01T00:00:00Z")
    result = sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL)
    conn = Connection.objects.get(pk=hubspot_connection.pk)
    assert result.complete and result.records == 25
    assert (conn.sync_progress_done, conn.sync_progress_total) == (25, 25)
    assert conn.import_started_at and conn.import_finished_at and conn.sync_checkpoint == {}
    assert conn.status == Connection.Status.CONNECTED and conn.sync_cursor["since_ms"] > 0
    assert Deal.objects.filter(connection=conn).count() == 25
    afters = [body.get("after") for body in _searches()]
    assert afters == [None, None, "10", "20"]  # probe, then three pages by `after`
    assert all(b["sorts"][0]["propertyName"] == "hs_lastmodifieddate" for b in _searches())


@pytest.mark.django_db
def test_delta_visits_only_what_changed(hubspot_connection, sandbox):
    ids = sandbox.generate_deals(count=12, stage="contractsent", modified_start="2026-01-01T00:00:00Z")["ids"]
    sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL)
    sandbox.move_deal_stage(ids[3], "closedwon")
    result = sync_run(connection_id=hubspot_connection.pk, mode=DELTA)
    assert result.records == 1
    deal = Deal.objects.get(external_id=ids[3])
    assert deal.status == Deal.Status.WON and deal.invoice_id
    assert sync_run(connection_id=hubspot_connection.pk, mode=DELTA).records == 0


@pytest.mark.django_db
def test_the_first_delta_starts_at_the_connection(hubspot_connection, sandbox):
    """Deals won before the seller connected are the historical import's (when
    asked for), never invoiced unasked by the first delta run; later ones are."""
    old = sandbox.generate_deals(count=3, stage="closedwon", modified_start="2026-01-01T00:00:00Z")["ids"]
    first = sync_run(connection_id=hubspot_connection.pk, mode=DELTA)
    assert first.complete and first.records == 0
    assert not Deal.objects.filter(external_id__in=old).exists() and not Invoice.objects.exists()
    new = sandbox.create_deal({"dealname": "Fence", "amount": "5000", "dealstage": "closedwon"},
                              line_items=[{"name": "Fence", "quantity": "1", "price": "5000"}], notify=False)
    assert sync_run(connection_id=hubspot_connection.pk, mode=DELTA).records == 1
    assert Deal.objects.get(external_id=new["id"]).invoice_id


@pytest.mark.django_db
def test_crash_mid_page_resumes_from_the_checkpoint(hubspot_connection, sandbox, monkeypatch):
    sandbox.generate_deals(count=25, stage="closedwon", modified_start="2026-01-01T00:00:00Z")
    real_ingest = crm_services.deal_ingest
    calls = {"n": 0}

    def crashing(**kwargs):
        calls["n"] += 1
        if calls["n"] == 15:  # the middle of the second page
            raise RuntimeError("worker killed")
        return real_ingest(**kwargs)

    monkeypatch.setattr(crm_services, "deal_ingest", crashing)
    with pytest.raises(RuntimeError):
        sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL)
    conn = Connection.objects.get(pk=hubspot_connection.pk)
    # Page 1 committed with its checkpoint; page 2 rolled back as a whole.
    assert conn.sync_checkpoint["state"]["after"] == "10"
    assert conn.sync_progress_done == 10 and Deal.objects.count() == 10 and Invoice.objects.count() == 10

    monkeypatch.setattr(crm_services, "deal_ingest", real_ingest)
    before = len(_searches())
    result = sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL)
    assert result.complete and result.records == 15
    assert [b.get("after") for b in _searches()[before:]] == ["10", "20"]  # resumed, not restarted
    conn.refresh_from_db()
    assert (conn.sync_progress_done, conn.sync_progress_total) == (25, 25)
    assert Deal.objects.count() == 25 and Invoice.objects.count() == 25


@pytest.mark.django_db
def test_windows_split_so_no_query_passes_the_cap(hubspot_connection, sandbox, monkeypatch):
    monkeypatch.setattr(HubSpotDealSync, "result_cap", 8)
    sandbox.generate_deals(count=30, stage="contractsent", modified_start="2026-01-01T00:00:00Z",
                           modified_step_ms=1000)
    result = sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL)
    assert result.complete and Deal.objects.count() == 30 and result.records == 30
    for body in _searches():
        offset = int(body.get("after") or 0)
        assert offset + body["limit"] <= 8 + 10  # never pages past the cap
    windows = {(f["filters"][0]["value"], f["filters"][1]["value"]) for b in _searches()
               for f in b["filterGroups"] if f["filters"][1]["operator"] == "LTE"}
    assert len(windows) > 3  # the range was narrowed step by step
    assert len(_searches()) <= 8  # about one query per page: no wasted probing


@pytest.mark.django_db
def test_many_deals_sharing_one_timestamp_never_loop(hubspot_connection, sandbox, monkeypatch):
    monkeypatch.setattr(HubSpotDealSync, "result_cap", 8)
    sandbox.generate_deals(count=23, stage="contractsent", modified_start="2026-01-01T00:00:00Z",
                           modified_step_ms=0)
    result = sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL)
    assert result.complete and Deal.objects.count() == 23
    keyset = [b for b in _searches() if b["sorts"][0]["propertyName"] == "hs_object_id"]
    assert len(keyset) == 3  # 10 + 10 + 3, each strictly after the last id seen
    assert all(int(b.get("after") or 0) == 0 for b in keyset)
    ids = [next(f["value"] for f in b["filterGroups"][0]["filters"] if f["propertyName"] == "hs_object_id")
           for b in keyset]
    assert ids[0] == "0" and int(ids[1]) < int(ids[2])
    assert len(_searches()) <= 7  # probe, first page, isolate the millisecond, 3 keyset pages


@pytest.mark.django_db
def test_short_429s_are_waited_out_inline(hubspot_connection, sandbox, sleeps):
    sandbox.generate_deals(count=5, stage="contractsent", modified_start="2026-01-01T00:00:00Z")
    sandbox.fail_next(count=2, status=429, path_prefix=DEALS_SEARCH)
    result = sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL)
    assert result.complete and Deal.objects.count() == 5
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps)
    statuses = list(VendorExchange.objects.filter(url__endswith="/search").values_list("status_code", flat=True))
    assert statuses.count(429) == 2


@pytest.mark.django_db
def test_persistent_429_keeps_the_checkpoint_and_the_task_retries(hubspot_connection, sandbox, sleeps):
    sandbox.generate_deals(count=25, stage="contractsent", modified_start="2026-01-01T00:00:00Z")
    sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL, max_pages=1)
    checkpoint = Connection.objects.get(pk=hubspot_connection.pk).sync_checkpoint
    assert checkpoint["state"]["after"] == "10"
    sandbox.fail_next(count=4, status=429, path_prefix="/crm/")
    with pytest.raises(RateLimited) as exc:
        sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL)
    assert exc.value.retry_after >= 1
    assert Connection.objects.get(pk=hubspot_connection.pk).sync_checkpoint == checkpoint
    # The task turns it into a retry and (eagerly here) finishes from the checkpoint.
    outcome = sync_connection.apply(kwargs={"connection_id": str(hubspot_connection.pk), "mode": HISTORICAL})
    assert outcome.get()["complete"] is True
    assert Deal.objects.count() == 25


@pytest.mark.django_db
def test_rate_limit_headers_set_the_wait(hubspot_connection, sandbox):
    sandbox.set_limits(ten_secondly=2)
    token = json.loads(hubspot_connection.credentials)["access_token"]
    client = HubSpotClient(base_url=sandbox.base_url, access_token=token, record=False)
    client.max_rate_limit_retries = 0
    for _ in range(2):
        client.request("GET", DEALS_PATH)
    with pytest.raises(RateLimited) as exc:
        client.request("GET", DEALS_PATH)
    assert exc.value.retry_after == 10.0  # X-HubSpot-RateLimit-Interval-Milliseconds: 10000
    client.close()


@pytest.mark.django_db(transaction=True)
def test_two_runs_never_overlap(hubspot_connection, sandbox):
    from integrations.connections.sync import _AdvisoryLock

    with _AdvisoryLock(hubspot_connection.pk):
        # A second database session sees the lock as taken.
        import threading

        from django.db import connections

        out = {}

        def other():
            out["result"] = sync_run(connection_id=hubspot_connection.pk, mode=DELTA)
            connections.close_all()

        t = threading.Thread(target=other)
        t.start()
        t.join(10)
    assert out["result"].skipped == "busy"

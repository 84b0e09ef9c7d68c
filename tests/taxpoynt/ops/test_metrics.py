"""Metrics exported at /metrics, read from the real Redis broker and database,
and (multiprocess mode) from the files real worker processes write."""
import os
import re
import subprocess
import sys

import pytest

from taxpoynt.celery import app
from taxpoynt.ops.tasks import heartbeat
from tests import factories
from tests.e2e import wait_for
# The Square and FIRS sandbox fixtures, imported as tests/integrations/pos/conftest.py does.
from tests.integrations.pos.square.fixtures import (  # noqa: F401
    connect, sq, square_sandbox, start_worker, stop_worker, vat_sale)
from tests.invoicing.firs.plugin import firs_business, firs_sandbox, firs_sandbox_server, firs_test_keys  # noqa: F401


def metric(body, name, labels=""):
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", body, re.M)
    return float(match.group(1)) if match else None


@pytest.mark.django_db
def test_queue_depth_and_age_come_from_the_broker(client):
    app.control.purge()
    for _ in range(3):
        heartbeat.apply_async(args=["batch"], queue="batch")
    body = client.get("/metrics").content.decode()
    assert metric(body, "celery_queue_depth", '{queue="batch"}') == 3
    assert metric(body, "celery_queue_oldest_age_seconds", '{queue="batch"}') >= 0
    assert metric(body, "celery_queue_depth", '{queue="pos_realtime"}') == 0
    app.control.purge()


@pytest.mark.django_db
def test_invoice_success_ratio(client, make_org):
    org = make_org()
    for state in ("confirmed", "confirmed", "confirmed", "rejected"):
        inv = factories.invoice(org)
        inv.submissions.update(state=state)
    body = client.get("/metrics").content.decode()
    assert metric(body, "invoice_generation_success_ratio") == 0.75


@pytest.mark.django_db
def test_declared_metrics_are_exported(client):
    from taxpoynt.ops import metrics

    metrics.pos_transaction_total.labels(vendor="square", outcome="invoiced").inc()
    body = client.get("/metrics").content.decode()
    for name in ("crm_deal_processing_seconds", "pos_transaction_total", "api_errors_total",
                 "pos_sale_to_confirmed_seconds", "webhook_events_total"):
        assert f"# HELP {name} " in body, name
    assert metric(body, "pos_transaction_total", '{outcome="invoiced",vendor="square"}') >= 1


# --- multiprocess mode: every web and worker process's samples, summed -----------------------
def total(body, name):
    """The sum of every sample of `name`, whatever its labels."""
    return sum(float(v) for v in re.findall(rf"^{re.escape(name)}{{.*}} ([0-9.e+-]+)$", body, re.M))


def scrape_showing(client, name, labels):
    """The /metrics body once it holds `name{labels}`, else None (for wait_for)."""
    body = client.get("/metrics").content.decode()
    return body if metric(body, name, labels) is not None else None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_live_sale_measured_in_a_worker_process_is_in_metrics(client, live_server, settings, tmp_path,
                                                                 firs_merchant, sq, square_sandbox, firs_sandbox):
    settings.PUBLIC_BASE_URL = live_server.url
    connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    sq.set_subscription(notification_url=live_server.url + "/webhooks/pos/square",
                        signature_key=settings.SQUARE_WEBHOOK_SIGNATURE_KEY)
    app.control.purge()
    # prefork, as deployed: the pool's child (not the parent) measures the sale.
    worker = start_worker(settings, queues="pos_realtime", firs_url=firs_sandbox.url, square_url=square_sandbox.url,
                          pool="prefork", PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
    try:
        sq.create_sale(order=vat_sale(), location_id=sorted(sq.locations)[0])
        body = wait_for(lambda: scrape_showing(client, "pos_sale_to_confirmed_seconds_count", '{vendor="square"}'),
                        what="the sale's confirmation in /metrics", worker=worker)
    finally:
        stop_worker(worker)
    assert metric(body, "pos_transaction_total", '{outcome="invoiced",vendor="square"}') == 1
    assert metric(body, "pos_sale_to_confirmed_seconds_count", '{vendor="square"}') == 1
    assert 0 < metric(body, "pos_sale_to_confirmed_seconds_sum", '{vendor="square"}') < 30
    assert total(body, "firs_request_latency_seconds_count") >= 4  # validate, sign, transmit, confirm
    assert {p.stem.rsplit("_", 1)[1] for p in tmp_path.glob("*.db")} - {str(worker.pid)}  # a pool child's files


def test_two_processes_counters_are_summed_and_scrape_time_collectors_counted_once(client, settings, tmp_path, db):
    record = ("import sys; from taxpoynt.ops import metrics; n = int(sys.argv[1]); "
              "metrics.pos_transaction_total.labels(vendor='square', outcome='invoiced').inc(n); "
              "metrics.pos_sale_to_confirmed_seconds.labels(vendor='square').observe(n / 10)")
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", record, str(n)], check=True, cwd=settings.BASE_DIR,
                       env=dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path)))
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
    body = client.get("/metrics").content.decode()
    assert metric(body, "pos_transaction_total", '{outcome="invoiced",vendor="square"}') == 5
    assert metric(body, "pos_sale_to_confirmed_seconds_count", '{vendor="square"}') == 2
    assert metric(body, "pos_sale_to_confirmed_seconds_bucket", '{le="0.2",vendor="square"}') == 1
    assert metric(body, "pos_sale_to_confirmed_seconds_bucket", '{le="0.3",vendor="square"}') == 2
    assert body.count("\ncelery_queue_depth{queue=\"batch\"} ") == 1
    assert body.count("\ninvoice_generation_success_ratio ") == 1


def test_a_worker_child_exit_marks_it_dead(settings, tmp_path):
    from celery.signals import worker_process_shutdown

    live_gauge, counter = tmp_path / "gauge_livesum_4242.db", tmp_path / "counter_4242.db"
    live_gauge.touch()
    counter.touch()
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
    worker_process_shutdown.send(sender="e2e@host", pid=4242, exitcode=0)
    assert not live_gauge.exists()  # a dead process's live gauge no longer counts …
    assert counter.exists()  # … its counters still do: they are totals

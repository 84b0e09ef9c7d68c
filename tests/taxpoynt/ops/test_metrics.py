"""Metrics exported at /metrics, read from the real Redis broker and database."""
import re

import pytest

from taxpoynt.celery import app
from taxpoynt.ops.tasks import heartbeat
from tests import factories


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

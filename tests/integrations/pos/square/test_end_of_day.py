"""The end of day through a real batch worker: a day whose webhooks were all
lost is found in Square's sandbox by `batch_reconcile_day` (routed to
`batch` by its name), reconciled window by window, each sale invoiced once
and confirmed by the FIRS sandbox, nothing on pos_realtime, nothing sent
to FIRS twice."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count

from integrations.pos.models import Transaction
from integrations.pos.square import services
from integrations.pos.square.tasks import batch_reconcile_day
from invoicing.models import Invoice, Submission
from tests.e2e import wait_for

from .fixtures import connect, start_worker, stop_worker

LAGOS = ZoneInfo("Africa/Lagos")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_lost_day_is_invoiced_and_confirmed_once_by_the_batch_worker(settings, sq, square_sandbox, firs_sandbox,
                                                                      firs_merchant):
    from taxpoynt.celery import app

    org = firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd")
    conn = connect(org, sq)
    day = dt.datetime.now(LAGOS).date() - dt.timedelta(days=1)
    sq.seed_history(count=40, start=dt.datetime.combine(day, dt.time(8), tzinfo=LAGOS),
                    end=dt.datetime.combine(day, dt.time(20), tzinfo=LAGOS))
    # One of the day's sales did arrive live: it keeps its invoice.
    with services.client_for(conn) as client:
        page = next(client.iter_order_pages(location_ids=sorted(sq.locations), limit=1, query={
            "filter": {"state_filter": {"states": ["COMPLETED"]}}}))
        live = services.order_ingest(connection=conn, order=page.orders[0])
    app.control.purge()
    worker = start_worker(settings, queues="batch", firs_url=firs_sandbox.url, square_url=square_sandbox.url,
                          name="eod", pool="prefork", concurrency=2)
    try:
        batch_reconcile_day.apply_async(kwargs={"day": day.isoformat(), "connection_id": str(conn.pk)})
        confirmed = Submission.objects.filter(invoice__connection=conn, queue="batch",
                                              state=Submission.State.CONFIRMED)
        wait_for(lambda: confirmed.count() == 39, timeout=90, what="the day's 39 lost sales confirmed",
                 worker=worker)
    finally:
        stop_worker(worker)
    per_sale = dict(Invoice.objects.filter(connection=conn).values_list("source_id")
                    .annotate(n=Count("id")).values_list("source_id", "n"))
    assert len(per_sale) == 40 and set(per_sale.values()) == {1}
    assert Transaction.objects.filter(connection=conn, invoice__isnull=True).count() == 0
    assert Transaction.objects.get(connection=conn, external_id=live.external_id).invoice_id == live.invoice_id
    assert Submission.objects.get(invoice_id=live.invoice_id).queue == "pos_realtime"
    assert firs_sandbox.app.sandbox.requests["sign"] == 39  # the live sale was never sent here

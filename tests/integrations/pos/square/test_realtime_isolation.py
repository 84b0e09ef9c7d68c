"""No POS event is delayed by a running historical import: with two real
worker processes (one on pos_realtime, one on sync,batch), a Square sale's
webhook is invoiced and confirmed by the FIRS sandbox while a large
historical import is still running on the other worker."""
import datetime as dt
import time
import uuid

import pytest
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.connections.services import connection_request_sync
from integrations.connections.sync import HISTORICAL
from invoicing.models import Invoice, Submission

from .fixtures import connect, start_worker, stop_worker, vat_sale

DONE = {Submission.State.CONFIRMED, Submission.State.TRANSMITTED}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_live_sale_confirms_while_an_import_runs(live_server, settings, sq, square_sandbox, firs_sandbox,
                                                firs_business, make_org, make_user):
    from taxpoynt.celery import app

    settings.FIRS_BASE_URL = firs_sandbox.url
    settings.PUBLIC_BASE_URL = live_server.url
    b = firs_business
    firs_sandbox.app.sandbox.set_webhook(b.business_id, "http://127.0.0.1:9/firs-webhook")
    org = make_org(owner=make_user(), name="Mama Put Lagos Ltd", tin=b.tin, email="billing@mamaput.example.ng",
                   telephone="+2348012345678", street_name="12 Adeola Odeku Street", city_name="Lagos",
                   postal_zone="101241", firs_business_id=uuid.UUID(str(b.business_id)),
                   firs_service_id=b.service_id, firs_api_key=b.api_key, firs_api_secret=b.api_secret,
                   firs_crypto_keys=b.crypto_keys_json)
    conn = connect(org, sq)
    now = timezone.now()
    sq.seed_history(count=1500, start=now - dt.timedelta(days=30), end=now - dt.timedelta(hours=1))
    sq.set_subscription(notification_url=live_server.url + "/webhooks/pos/square",
                        signature_key=settings.SQUARE_WEBHOOK_SIGNATURE_KEY)
    app.control.purge()
    realtime = start_worker(settings, queues="pos_realtime", firs_url=firs_sandbox.url, square_url=square_sandbox.url,
                            name="rt")
    bulk = start_worker(settings, queues="sync,batch", firs_url=firs_sandbox.url, square_url=square_sandbox.url,
                        name="bulk")
    try:
        connection_request_sync(connection=conn, mode=HISTORICAL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            c = Connection.objects.get(pk=conn.pk)
            if c.sync_progress_done > 0 or Invoice.objects.filter(source_system="square").exists():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the import never started")

        sale = sq.create_sale(order=vat_sale(), location_id=sorted(sq.locations)[0])
        started = time.monotonic()
        order_id = sale["order"]["id"]
        confirmed = None
        while time.monotonic() - started < 30:
            confirmed = Submission.objects.filter(invoice__source_id=order_id, state__in=DONE).first()
            if confirmed:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        assert confirmed is not None, "the live sale was not confirmed within 30 s"
        assert confirmed.queue == "pos_realtime"
        # The import was still running when the live sale was done.
        c = Connection.objects.get(pk=conn.pk)
        imported = Invoice.objects.filter(source_system="square").exclude(source_id=order_id).count()
        assert c.import_finished_at is None or imported < 1500, (elapsed, imported)
        batch_pending = Submission.objects.filter(queue="batch").exclude(state__in=DONE).count()
        print(f"live sale confirmed in {elapsed:.2f}s with {imported} imported, {batch_pending} batch pending")
        assert elapsed < 10
    finally:
        stop_worker(realtime)
        stop_worker(bulk)

"""The Square part of `make demo` (taxpoynt.ops.demo.square_world) against a
live server, the Square and FIRS sandboxes and a real pos_realtime worker: the
merchant is connected through the dashboard and Square's consent page, and
the load generator's live sales arrive as signed webhooks and become invoices
FIRS has signed and received."""
import pytest

from integrations.connections.models import Connection, WebhookEvent
from invoicing.models import Invoice, Submission
from taxpoynt.ops.demo import square_world
from tests.e2e import PASSWORD, wait_for

from .fixtures import start_worker, stop_worker


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_square_world_connects_and_turns_live_sales_into_invoices(live_server, settings, square_sandbox, sq,
                                                                  firs_sandbox, firs_merchant):
    from taxpoynt.celery import app

    settings.PUBLIC_BASE_URL = live_server.url
    firs_merchant("demo@taxpoynt.example.ng", "Demo Foods Ltd")
    app.control.purge()
    worker = start_worker(settings, queues="pos_realtime", firs_url=firs_sandbox.url, square_url=square_sandbox.url)
    try:
        square_world(base_url=live_server.url, email="demo@taxpoynt.example.ng", password=PASSWORD,
                     square_app=square_sandbox.app)
        conn = Connection.objects.get(vendor="square")
        assert conn.status in (Connection.Status.CONNECTED, Connection.Status.SYNCING)
        wait_for(lambda: WebhookEvent.objects.filter(vendor="square", event_type="order.updated",
                                                     connection=conn).exists(), timeout=20, what="a live sale's webhook")
        live = Submission.objects.filter(invoice__connection=conn, queue="pos_realtime",
                                         state__in=[Submission.State.CONFIRMED, Submission.State.TRANSMITTED])
        wait_for(lambda: live.count() >= 3, timeout=60, what="three live sales confirmed by FIRS", worker=worker)
        invoice = Invoice.objects.get(pk=live.first().invoice_id)
        assert invoice.irn and invoice.source_system == "square"
    finally:
        sq.stop_load()
        stop_worker(worker)

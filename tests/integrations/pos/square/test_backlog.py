"""A backlog of live Square sales taken several at a time
(services.webhook_events_process through connections.tasks.webhook_event_run):
the same outcomes as one at a time, one BatchRetrieveOrders instead of an
order read a sale, exactly one invoice a sale, FIRS-confirmed; a batch that
fails gives its events back; and, with a real worker, a burst of signed
webhooks that waited for it is worked off in batches."""
import datetime
import json
import time

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.connections.models import VendorExchange, WebhookEvent
from integrations.pos.models import Location, Transaction
from integrations.pos.square import services, tasks
from integrations.pos.square.provider import SquareProvider
from invoicing.models import Invoice, Submission

from .fixtures import connect, order_event, start_worker, stop_worker, vat_sale

DONE = {Submission.State.CONFIRMED, Submission.State.TRANSMITTED}


def stored(conn, payload: dict, *, waited: float = 2.0) -> WebhookEvent:
    event = WebhookEvent.objects.create(vendor="square", event_id=payload["event_id"], event_type=payload["type"],
                                        organization_id=conn.organization_id, connection=conn,
                                        raw_body=json.dumps(payload).encode(), headers={})
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - datetime.timedelta(seconds=waited))
    return event


def payment_event(conn, sale, event_id):
    return {"merchant_id": conn.external_account_id, "type": "payment.updated", "event_id": event_id,
            "data": {"type": "payment", "id": sale["payment"]["id"], "object": {"payment": sale["payment"]}}}


def per_run(stat):
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(f"webhook_events_per_run_{stat}", {"vendor": "square"}) or 0


def order_reads(conn):
    calls = VendorExchange.objects.filter(connection=conn, url__contains="/v2/orders")
    return (calls.filter(method="GET").count(),
            calls.filter(method="POST", url__endswith="/v2/orders/batch-retrieve").count())


@pytest.mark.django_db
def test_one_task_run_invoices_the_backlog_as_one_at_a_time_would(sq, firs_merchant, monkeypatch):
    monkeypatch.setattr(SquareProvider, "webhook_batch_size", 9)  # all eight events of this backlog in one run
    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    sales = [sq.create_sale(order=vat_sale(qty=str(n + 1)), emit=False) for n in range(4)]
    already = sq.create_sale(order=vat_sale(), emit=False)["order"]
    with services.client_for(conn) as client:
        services.order_ingest(connection=conn, order=client.get_order(already["id"]))
    odd = vat_sale()
    odd["taxes"][0]["percentage"] = "5"  # no FIRS tax category for 5 %: cannot be mapped
    unmappable = sq.create_sale(order=odd, emit=False)["order"]
    still_open = sq.create_sale(order=vat_sale(), complete=False, emit=False)["order"]
    merchant = conn.external_account_id

    first = stored(conn, order_event(merchant_id=merchant, order=sales[0]["order"], event_id="s0"), waited=3)
    backlog = [stored(conn, order_event(merchant_id=merchant, order=s["order"], event_id=f"s{n}"))
               for n, s in enumerate(sales[1:], start=1)]
    twin = stored(conn, payment_event(conn, sales[0], "s0-payment"))
    done = stored(conn, order_event(merchant_id=merchant, order=already, event_id="already"))
    bad = stored(conn, order_event(merchant_id=merchant, order=unmappable, event_id="odd"))
    opened = stored(conn, order_event(merchant_id=merchant, order=still_open, event_id="open", state="OPEN"))
    gets_before, batches_before = order_reads(conn)
    runs_before = per_run("count"), per_run("sum")

    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(first.pk)}).get() == "processed"

    assert (per_run("count"), per_run("sum")) == (runs_before[0] + 1, runs_before[1] + 8)
    statuses = dict(WebhookEvent.objects.filter(connection=conn).values_list("event_id", "status"))
    assert statuses == {"s0": "processed", "s1": "processed", "s2": "processed", "s3": "processed",
                        "s0-payment": "processed", "already": "processed", "odd": "failed", "open": "ignored"}
    assert "cannot be invoiced" in WebhookEvent.objects.get(pk=bad.pk).error
    assert not WebhookEvent.objects.filter(connection=conn, claimed_until__isnull=False).exists()
    # One BatchRetrieveOrders for the backlog; no order read one by one.
    assert order_reads(conn) == (gets_before, batches_before + 1)
    for sale in sales:
        invoice = Invoice.objects.get(source_system="square", source_id=sale["order"]["id"])
        sub = invoice.submissions.get()
        assert sub.state == Submission.State.CONFIRMED and sub.queue == "pos_realtime", sub.errors
        assert invoice.irn and sub.lease_token is None
    received = WebhookEvent.objects.get(pk=backlog[0].pk).received_at
    assert Submission.objects.get(invoice__source_id=sales[1]["order"]["id"]).source_received_at == received
    assert Invoice.objects.filter(connection=conn).count() == 5  # the four and the one made before
    assert Transaction.objects.get(external_id=unmappable["id"]).invoice_id is None
    # The tasks of the events the run took find them done.
    for event in (*backlog, twin, done, opened):
        assert tasks.process_webhook_event.apply(kwargs={"event_id": str(event.pk)}).get() == "skipped"


@pytest.mark.django_db
def test_a_run_takes_at_most_the_providers_batch(sq, firs_merchant):
    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    size = SquareProvider.webhook_batch_size
    orders = [sq.create_sale(order=vat_sale(), emit=False)["order"] for _ in range(size + 2)]
    events = [stored(conn, order_event(merchant_id=conn.external_account_id, order=o, event_id=o["id"]),
                     waited=3 - n * 0.1) for n, o in enumerate(orders)]
    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(events[0].pk)}).get() == "processed"
    statuses = [WebhookEvent.objects.get(pk=e.pk).status for e in events]
    assert statuses == ["processed"] * size + ["received"] * 2  # the oldest first
    assert Invoice.objects.filter(connection=conn).count() == size


@pytest.mark.django_db
def test_events_that_have_not_waited_run_one_at_a_time(sq, firs_merchant):
    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    sales = [sq.create_sale(order=vat_sale(), emit=False)["order"] for _ in range(2)]
    events = [stored(conn, order_event(merchant_id=conn.external_account_id, order=o, event_id=o["id"]), waited=0)
              for o in sales]
    gets_before, batches_before = order_reads(conn)
    with CaptureQueriesContext(db_connection) as queries:
        assert tasks.process_webhook_event.apply(kwargs={"event_id": str(events[0].pk)}).get() == "processed"
    # Its own event had not waited: no backlog was looked for.
    assert not [q for q in queries if "FOR UPDATE SKIP LOCKED) RETURNING *" in q["sql"]]
    assert WebhookEvent.objects.get(pk=events[1].pk).status == WebhookEvent.Status.RECEIVED
    assert order_reads(conn) == (gets_before + 1, batches_before)


@pytest.mark.django_db(transaction=True)
def test_a_batch_square_refuses_gives_its_events_back(sq, firs_merchant, settings):
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no Redis broker: tasks run in-process")
    from tests.integrations.connections.test_requeue_unclaimed import take_queued_event_ids

    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    sales = [sq.create_sale(order=vat_sale(), emit=False)["order"] for _ in range(3)]
    events = [stored(conn, order_event(merchant_id=conn.external_account_id, order=o, event_id=o["id"]))
              for o in sales]
    sq.set_faults([{"path": "/v2/orders/batch-retrieve", "method": "POST", "status": 503, "count": 1}])

    # The run's own event goes the one-at-a-time way (its order read answers).
    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(events[0].pk)}).get() == "processed"
    assert Invoice.objects.filter(source_id=sales[0]["id"]).count() == 1
    for event in events[1:]:
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.RECEIVED and event.claimed_until is None
    queued = take_queued_event_ids("pos_realtime", {str(e.pk) for e in events[1:]})
    assert {str(e.pk) for e in events[1:]} <= set(queued)


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_as_a_whole_gives_every_other_event_back(sq, firs_merchant, second_seller, settings,
                                                                     monkeypatch):
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no Redis broker: tasks run in-process")
    from tests.integrations.connections.test_requeue_unclaimed import take_queued_event_ids

    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    [elsewhere] = Location.objects.filter(connection=second_seller).values_list("external_id", flat=True)
    sales = [(conn, sq.create_sale(order=vat_sale(), emit=False)["order"]),
             (second_seller, sq.create_sale(order=vat_sale(), location_id=elsewhere, emit=False)["order"]),
             (conn, sq.create_sale(order=vat_sale(), emit=False)["order"])]
    events = [stored(c, order_event(merchant_id=c.external_account_id, order=o, event_id=o["id"]), waited=3 - n / 10)
              for n, (c, o) in enumerate(sales)]

    def database_down(**kwargs):  # the fault: the batch's one transaction fails
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "sellers_orders_ingest", database_down)
    # The run's own event goes the one-at-a-time way, which does not use the batch path.
    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(events[0].pk)}).get() == "processed"
    assert Invoice.objects.filter(source_id=sales[0][1]["id"]).count() == 1
    for event in events[1:]:
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.RECEIVED and event.claimed_until is None
    queued = take_queued_event_ids("pos_realtime", {str(e.pk) for e in events[1:]})
    assert {str(e.pk) for e in events[1:]} <= set(queued)
    assert not Invoice.objects.filter(source_id__in=[o["id"] for _, o in sales[1:]]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_seller_whose_square_refuses_gives_back_its_own_events_and_the_others_go_on(
        sq, firs_merchant, second_seller, settings):
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no Redis broker: tasks run in-process")
    from tests.integrations.connections.test_requeue_unclaimed import take_queued_event_ids

    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    [elsewhere] = Location.objects.filter(connection=second_seller).values_list("external_id", flat=True)
    mine = [sq.create_sale(order=vat_sale(), emit=False)["order"] for _ in range(3)]
    theirs = [sq.create_sale(order=vat_sale(), location_id=elsewhere, emit=False)["order"] for _ in range(2)]
    events = [stored(c, order_event(merchant_id=c.external_account_id, order=o, event_id=o["id"]), waited=3 - n / 10)
              for n, (c, o) in enumerate([(conn, mine[0]), (second_seller, theirs[0]), (conn, mine[1]),
                                          (second_seller, theirs[1]), (conn, mine[2])])]
    # The run's first call, this seller's BatchRetrieveOrders, is refused.
    sq.set_faults([{"path": "/v2/orders/batch-retrieve", "method": "POST", "status": 503, "count": 1}])

    # The run's own event goes the one-at-a-time way (its order read answers) ...
    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(events[0].pk)}).get() == "processed"
    assert Invoice.objects.filter(source_id=mine[0]["id"]).count() == 1
    # ... the other seller's sales were invoiced in the run, and FIRS confirmed them ...
    for event in (events[1], events[3]):
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.PROCESSED
    assert Submission.objects.filter(invoice__connection=second_seller, state=Submission.State.CONFIRMED).count() == 2
    # ... and this seller's others wait again, each with a task of its own, out of any backlog.
    for event in (events[2], events[4]):
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.RECEIVED and event.claimed_until is None and event.attempts == 1
    queued = take_queued_event_ids("pos_realtime", {str(events[2].pk), str(events[4].pk)})
    assert {str(events[2].pk), str(events[4].pk)} <= set(queued)
    for event in (events[2], events[4]):
        assert tasks.process_webhook_event.apply(kwargs={"event_id": str(event.pk)}).get() == "processed"
    assert Invoice.objects.filter(connection=conn).count() == 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_burst_that_waited_for_the_worker_is_invoiced_in_batches_exactly_once(
        live_server, settings, sq, square_sandbox, firs_sandbox, firs_merchant):
    """Signed webhooks for 40 sales arrive while no pos_realtime worker runs;
    a real worker then works the backlog off in batches (BatchRetrieveOrders),
    every sale confirmed by the FIRS sandbox with exactly one invoice."""
    from taxpoynt.celery import app

    settings.PUBLIC_BASE_URL = live_server.url
    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    sq.set_subscription(notification_url=live_server.url + "/webhooks/pos/square",
                        signature_key=settings.SQUARE_WEBHOOK_SIGNATURE_KEY)
    app.control.purge()
    orders = [sq.create_sale(order=vat_sale(qty=str(1 + n % 3)))["order"]["id"] for n in range(40)]
    deadline = time.monotonic() + 30
    while WebhookEvent.objects.filter(connection=conn, event_type="order.updated").count() < 40:
        assert time.monotonic() < deadline, "the sandbox's webhooks did not all arrive"
        time.sleep(0.1)
    time.sleep(0.3)  # they have waited: a backlog
    worker = start_worker(settings, queues="pos_realtime", firs_url=firs_sandbox.url, square_url=square_sandbox.url,
                          name="burst")
    try:
        deadline = time.monotonic() + 90
        # A batch writes its events' outcomes after its sales are confirmed.
        while (Submission.objects.filter(invoice__connection=conn, state__in=DONE).count() < 40
               or pending(conn).exists()):
            assert time.monotonic() < deadline, (list(Submission.objects.values_list("state", "error")),
                                                 list(pending(conn).values_list("event_type", "status", "error")))
            time.sleep(0.2)
    finally:
        stop_worker(worker)
    per_order = {o: Invoice.objects.filter(source_system="square", source_id=o).count() for o in orders}
    assert set(per_order.values()) == {1}
    gets, batches = order_reads(conn)
    assert batches >= 4 and gets < 40, (gets, batches)
    assert not pending(conn).exists()


def pending(conn):
    """The connection's events not yet processed (or ignored)."""
    return WebhookEvent.objects.filter(connection=conn).exclude(
        status__in=[WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED])


@pytest.mark.django_db
def test_a_backlog_of_a_merchant_who_turned_real_time_off_is_ignored(sq, firs_merchant):
    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    conn.settings = {"realtime": False}  # the delta sync picks the sales up instead
    conn.save(update_fields=["settings"])
    orders = [sq.create_sale(order=vat_sale(), emit=False)["order"] for _ in range(3)]
    events = [stored(conn, order_event(merchant_id=conn.external_account_id, order=o, event_id=o["id"]))
              for o in orders]
    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(events[0].pk)}).get() == "ignored"
    assert set(WebhookEvent.objects.filter(connection=conn).values_list("status", flat=True)) == {"ignored"}
    assert not Invoice.objects.filter(connection=conn).exists()

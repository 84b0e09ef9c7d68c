"""Square's live sales go by the provider's wake (integrations/connections/
wakes.py): the intake publishes one message for a run of sales, its task takes
what was counted on it in one batch, a full batch wakes the next one, and a
wake's own sale alone runs alone. Real signed deliveries through the intake,
the Square and FIRS sandboxes, PostgreSQL and Redis; the broker's publish is
recorded instead of pushed, and each message is then run as the worker would."""
import base64
import datetime
import json

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.connections import wakes
from integrations.connections.models import WebhookEvent
from integrations.pos.models import Location
from integrations.pos.square import tasks
from integrations.pos.square.provider import SquareProvider
from invoicing.models import Invoice, Submission

from .fixtures import connect, order_event, signed, vat_sale

pytestmark = pytest.mark.django_db
PUBLIC = "https://taxpoynt.example.ng"
URL = PUBLIC + "/webhooks/pos/square"
BACKLOG_CLAIM = "FOR UPDATE SKIP LOCKED) RETURNING *"


@pytest.fixture
def published(settings, monkeypatch):
    """The task messages the code publishes, as (task name, kwargs), in order."""
    if not settings.CELERY_BROKER_URL.startswith("redis") or settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no Redis broker: tasks run in-process")
    from kombu.transport import redis as kombu_redis

    messages = []
    monkeypatch.setattr(kombu_redis.Channel, "_put", lambda self, queue, message, **kw: messages.append(
        (message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[1])))
    return messages


@pytest.fixture
def merchant(sq, firs_merchant, settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    return connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)


def deliver(client, payload):
    body, headers = signed(URL, payload)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    response = client.post("/webhooks/pos/square", data=body, content_type="application/json", **extra)
    assert response.status_code == 200, response.content
    return WebhookEvent.objects.get(vendor="square", event_id=payload["event_id"])


def sales(client, sq, conn, count, django_capture_on_commit_callbacks, *, first=0):
    """`count` completed sales at the connection's seller, each delivered as a signed order.updated."""
    location = Location.objects.filter(connection=conn).values_list("external_id", flat=True).first()
    events = []
    for n in range(first, first + count):
        order = sq.create_sale(order=vat_sale(qty=str(1 + n % 3)), location_id=location, emit=False)["order"]
        with django_capture_on_commit_callbacks(execute=True):
            events.append(deliver(client, order_event(merchant_id=conn.external_account_id, order=order,
                                                      event_id=f"sale-{n}")))
    return events


def with_a_message_of_its_own(sq, conn) -> WebhookEvent:
    """A stored sale event no wake counted (one the sweep or a replay hands over)."""
    order = sq.create_sale(order=vat_sale(), emit=False)["order"]
    return WebhookEvent.objects.create(
        vendor="square", event_id="own-message", event_type="order.updated", connection=conn,
        organization_id=conn.organization_id, headers={},
        raw_body=json.dumps(order_event(merchant_id=conn.external_account_id, order=order,
                                        event_id="own-message")).encode())


def run(kwargs, **options):
    return tasks.process_webhook_event.apply(kwargs=kwargs, **options).get()


def confirmed(conn):
    return Submission.objects.filter(invoice__connection=conn, state=Submission.State.CONFIRMED).count()


def wake_arrivals(outcome):
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("webhook_wake_arrivals_total", {"vendor": "square", "outcome": outcome}) or 0


def test_a_run_of_sales_is_one_message_and_one_batch(client, sq, merchant, published,
                                                     django_capture_on_commit_callbacks):
    before = wake_arrivals("published"), wake_arrivals("counted")
    events = sales(client, sq, merchant, 4, django_capture_on_commit_callbacks)
    assert (wake_arrivals("published"), wake_arrivals("counted")) == (before[0] + 1, before[1] + 3)
    refund = {"merchant_id": merchant.external_account_id, "type": "refund.updated", "event_id": "refund-1",
              "data": {"type": "refund", "id": "R1", "object": {"refund": {"id": "R1", "status": "PENDING"}}}}
    with django_capture_on_commit_callbacks(execute=True):
        refund_event = deliver(client, refund)

    task = SquareProvider.webhook_task
    wake = {"event_id": str(events[0].pk), "wake": "square"}
    # The first sale publishes the wake; the others are counted on it; a
    # refund (not a batch type) has a message of its own.
    assert published == [(task, wake), (task, {"event_id": str(refund_event.pk)})]

    assert run(published[0][1]) == "processed"
    assert WebhookEvent.objects.filter(pk__in=[e.pk for e in events], status="processed").count() == 4
    assert confirmed(merchant) == 4
    assert wakes.take("square") is None  # taken by the run
    assert len(published) == 2  # a batch that was not full wakes nothing


def test_sales_of_several_sellers_are_one_message_and_one_run(client, sq, merchant, second_seller, published,
                                                              django_capture_on_commit_callbacks):
    from .test_backlog import order_reads, per_run

    runs_before = per_run("count"), per_run("sum")
    reads_before = order_reads(merchant), order_reads(second_seller)
    events = []
    for n in range(2):  # the two sellers' sales interleaved, as they arrive
        events += sales(client, sq, merchant, 1, django_capture_on_commit_callbacks, first=2 * n)
        events += sales(client, sq, second_seller, 1, django_capture_on_commit_callbacks, first=2 * n + 1)
    assert published == [(SquareProvider.webhook_task, {"event_id": str(events[0].pk), "wake": "square"})]

    with CaptureQueriesContext(db_connection) as queries:
        assert run(published[0][1]) == "processed"
    assert WebhookEvent.objects.filter(pk__in=[e.pk for e in events], status="processed").count() == 4
    assert (per_run("count"), per_run("sum")) == (runs_before[0] + 1, runs_before[1] + 4)
    # Both sellers' sales mirrored and invoiced by one statement a table, their Square calls recorded by one.
    for table in ("pos_transaction", '"invoicing_invoice"', '"invoicing_submission"', '"connections_vendorexchange"'):
        assert len([q for q in queries if q["sql"].startswith(f"INSERT INTO {table} ")]) == 1, table
    # Each seller's orders read with its own token, one BatchRetrieveOrders each.
    assert order_reads(merchant) == (reads_before[0][0], reads_before[0][1] + 1)
    assert order_reads(second_seller) == (reads_before[1][0], reads_before[1][1] + 1)
    for conn in (merchant, second_seller):
        invoices = Invoice.objects.filter(connection=conn)
        assert invoices.filter(organization=conn.organization).count() == 2 and confirmed(conn) == 2
        # Each organization's own gap-free numbers, and IRNs of its own FIRS service id.
        assert sorted(invoices.values_list("number", flat=True)) == ["INV000001", "INV000002"]
        assert all(irn.split("-")[1] == conn.organization.firs_service_id
                   for irn in invoices.values_list("irn", flat=True))
    assert len(published) == 1


def test_a_wake_with_only_its_own_sale_runs_it_alone(client, sq, merchant, published,
                                                     django_capture_on_commit_callbacks):
    [event] = sales(client, sq, merchant, 1, django_capture_on_commit_callbacks)
    # A sale stored with a message of its own (the sweep's, a replay's) is not this wake's.
    own = with_a_message_of_its_own(sq, merchant)
    # A worker was free: the wake's sale did not wait for it (50 ms would be a backlog).
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now())
    with CaptureQueriesContext(db_connection) as queries:
        assert run(published[0][1]) == "processed"
    assert not [q for q in queries if BACKLOG_CLAIM in q["sql"]]
    own.refresh_from_db()
    assert own.status == WebhookEvent.Status.RECEIVED
    assert confirmed(merchant) == 1 and WebhookEvent.objects.get(pk=event.pk).status == "processed"


def test_a_wake_whose_sale_waited_for_a_worker_takes_the_backlog(client, sq, merchant, published,
                                                                 django_capture_on_commit_callbacks):
    # Busy workers (a slow FIRS): the wake counted only its own sale, but
    # it waited for its task, and sales with messages of their own wait too.
    [event] = sales(client, sq, merchant, 1, django_capture_on_commit_callbacks)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - datetime.timedelta(seconds=1))
    waiting = with_a_message_of_its_own(sq, merchant)
    assert run(published[0][1]) == "processed"
    waiting.refresh_from_db()
    assert waiting.status == WebhookEvent.Status.PROCESSED and confirmed(merchant) == 2


def test_a_full_batch_wakes_the_next_one(client, sq, merchant, published, monkeypatch,
                                         django_capture_on_commit_callbacks):
    monkeypatch.setattr(SquareProvider, "webhook_batch_size", 3)
    events = sales(client, sq, merchant, 5, django_capture_on_commit_callbacks)
    assert len(published) == 1

    assert run(published[0][1]) == "processed"
    statuses = [WebhookEvent.objects.get(pk=e.pk).status for e in events]
    assert statuses == ["processed"] * 3 + ["received"] * 2  # the oldest first
    # The rest's wake: no event of its own, for the backlog.
    assert published[1] == (SquareProvider.webhook_task, {"event_id": None, "wake": "square"})

    assert run(published[1][1]) == "processed"
    assert WebhookEvent.objects.filter(pk__in=[e.pk for e in events], status="processed").count() == 5
    assert len(published) == 2  # two left: not a full batch
    per_order = Invoice.objects.filter(connection=merchant).values_list("source_id", flat=True)
    assert len(per_order) == len(set(per_order)) == 5
    assert confirmed(merchant) == 5


def test_a_wake_whose_sale_another_run_took_does_nothing_more(client, sq, merchant, published,
                                                              django_capture_on_commit_callbacks):
    [event] = sales(client, sq, merchant, 1, django_capture_on_commit_callbacks)
    assert run({"event_id": str(event.pk)}) == "processed"  # e.g. its replay ran first
    with CaptureQueriesContext(db_connection) as queries:
        assert run(published[0][1]) == "skipped"
    assert not [q for q in queries if BACKLOG_CLAIM in q["sql"]]
    assert confirmed(merchant) == 1


def test_a_wake_whose_counter_is_gone_takes_the_backlog(client, sq, merchant, published,
                                                        django_capture_on_commit_callbacks):
    events = sales(client, sq, merchant, 3, django_capture_on_commit_callbacks)
    wakes.forget("square")  # expired, or another wake took it
    assert run(published[0][1]) == "processed"
    assert WebhookEvent.objects.filter(pk__in=[e.pk for e in events], status="processed").count() == 3


def test_a_retry_leaves_the_wake_to_the_others(client, sq, merchant, published, django_capture_on_commit_callbacks):
    events = sales(client, sq, merchant, 2, django_capture_on_commit_callbacks)
    WebhookEvent.objects.filter(pk=events[0].pk).update(received_at=timezone.now())  # it did not wait
    assert run(published[0][1], retries=1) == "processed"  # a retry is its own event's alone
    assert WebhookEvent.objects.get(pk=events[1].pk).status == WebhookEvent.Status.RECEIVED
    assert wakes.take("square") == 2


def test_a_failed_publish_forgets_the_wake(client, sq, merchant, published, monkeypatch,
                                           django_capture_on_commit_callbacks):
    from kombu.transport import redis as kombu_redis

    def broker_down(self, queue, message, **kw):
        raise ConnectionError("broker down")

    order = sq.create_sale(order=vat_sale(), emit=False)["order"]
    monkeypatch.setattr(kombu_redis.Channel, "_put", broker_down)
    with pytest.raises(Exception):
        with django_capture_on_commit_callbacks(execute=True):
            deliver(client, order_event(merchant_id=merchant.external_account_id, order=order, event_id="lost"))
    assert WebhookEvent.objects.filter(event_id="lost").exists()  # stored: the sweep hands it over
    assert wakes.arrive("square").starts is True  # not held back by a wake that was never sent


def test_a_wake_of_close_sales_lingers_and_a_sale_arriving_meanwhile_joins_its_run(
        client, sq, merchant, published, monkeypatch, settings, django_capture_on_commit_callbacks):
    from types import SimpleNamespace

    from integrations.connections import tasks as connection_tasks

    # Long (the sleep is replaced, nothing waits it): a loaded machine must not take it up before the run.
    settings.WEBHOOK_WAKE_LINGER_MS = 5000
    [first] = sales(client, sq, merchant, 1, django_capture_on_commit_callbacks)
    assert "linger" not in published[0][1]  # the first sale: no reason to wait
    assert run(published[0][1]) == "processed"

    # The next sale, closer than the linger to the first: its wake waits out
    # the linger from its receipt, and a sale arriving meanwhile joins it.
    order = sq.create_sale(order=vat_sale(), emit=False)["order"]
    with django_capture_on_commit_callbacks(execute=True):
        second = deliver(client, order_event(merchant_id=merchant.external_account_id, order=order,
                                             event_id="second"))
    assert published[1] == (SquareProvider.webhook_task,
                            {"event_id": str(second.pk), "wake": "square", "linger": 5.0})
    slept, joined = [], []

    def a_sale_arrives_meanwhile(seconds):
        slept.append(seconds)
        order = sq.create_sale(order=vat_sale(qty="2"), emit=False)["order"]
        with django_capture_on_commit_callbacks(execute=True):
            joined.append(deliver(client, order_event(merchant_id=merchant.external_account_id, order=order,
                                                      event_id="meanwhile")))

    monkeypatch.setattr(connection_tasks, "time", SimpleNamespace(sleep=a_sale_arrives_meanwhile))
    with CaptureQueriesContext(db_connection) as queries:
        assert run(published[1][1]) == "processed"
    assert len(slept) == 1 and 0 < slept[0] <= 5.0  # the linger less the time since the receipt
    assert len(published) == 2  # the sale that arrived meanwhile was counted on the lingering wake
    assert len([q for q in queries if BACKLOG_CLAIM in q["sql"]]) == 1  # and taken with it, in one run
    assert WebhookEvent.objects.get(pk=joined[0].pk).status == "processed"
    assert confirmed(merchant) == 3

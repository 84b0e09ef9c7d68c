"""A Square sale that cannot be invoiced (its order cannot be mapped) stays
visible with its reason, whichever way it came: through `order_ingest` (the
delta sync, an event's retries and replays, a sale alone) or a backlog of
live webhooks (the batch path). The reason shows in the dashboard's
transactions list, GET /api/v1/pos/transactions and admin, and "Needs
attention" lists the sale and its failed event; a sale that maps is
unaffected, and the live batch writes nothing more for it."""
import copy

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from integrations.connections.models import WebhookEvent
from integrations.pos.models import Transaction
from integrations.pos.square import services, tasks
from rest_framework.test import APIClient
from taxpoynt.dashboard.selectors import needs_attention
from taxpoynt.errors import ApplicationError

from .fixtures import connect, order_event, vat_sale
from .test_backlog import stored

pytestmark = pytest.mark.django_db

REASON = "more than one VAT tax (VAT, Sales VAT)"


def two_taxes_sale() -> dict:
    """A line with VAT twice (a second 7.5 % tax, which maps to VAT too): no
    one VAT category fits it. (A second tax that maps to none is a levy.)"""
    order = vat_sale()
    order["taxes"].append({"uid": "vat2", "name": "Sales VAT", "percentage": "7.5", "type": "ADDITIVE",
                           "scope": "LINE_ITEM"})
    order["line_items"][0]["applied_taxes"].append({"tax_uid": "vat2"})
    return order


def _row(conn, order) -> Transaction:
    return Transaction.objects.get(connection=conn, external_id=order["id"])


def _visible_everywhere(conn, order, client):
    """The sale's reason in the dashboard list (and its live feed), the API,
    admin, and in Needs attention (with its link)."""
    owner = conn.organization.owner
    client.force_login(owner)
    page = client.get("/dashboard/transactions").content.decode()
    assert order["id"] in page and REASON in page
    live = {r["external_id"]: r for r in client.get("/dashboard/transactions/live").json()["results"]}
    assert REASON in live[order["id"]]["invoice_error"]
    api = APIClient()
    api.force_authenticate(owner)
    rows = {r["external_id"]: r for r in api.get("/api/v1/pos/transactions").json()["results"]}
    assert rows[order["id"]]["invoice_id"] is None and REASON in rows[order["id"]]["invoice_error"]
    only = api.get("/api/v1/pos/transactions", {"not_invoiced": "true"}).json()["results"]
    assert order["id"] in {r["external_id"] for r in only} and all(r["invoice_error"] for r in only)
    attention = needs_attention(organization=conn.organization)
    assert [r for r in attention if r["kind"] == "sale" and r["transaction"].external_id == order["id"]
            and REASON in r["detail"]]
    overview = client.get("/dashboard/").content.decode()
    assert "Not invoiced" in overview and "/dashboard/transactions?not_invoiced=on" in overview
    listed = client.get("/dashboard/transactions?not_invoiced=on").content.decode()
    assert order["id"] in listed
    return attention


def test_order_ingest_keeps_an_unmappable_sale_with_its_reason(sq, square_connection, client, admin_client):
    conn = square_connection
    with services.client_for(conn) as square:
        bad = square.get_order(sq.create_sale(order=two_taxes_sale(), emit=False)["order"]["id"])
        good = square.get_order(sq.create_sale(order=vat_sale(), emit=False)["order"]["id"])
    with pytest.raises(ApplicationError, match="cannot be invoiced"):
        services.order_ingest(connection=conn, order=bad)  # the event's retry fails, with the reason
    row = _row(conn, bad)
    assert row.invoice_id is None and row.status == Transaction.Status.COMPLETED and REASON in row.invoice_error
    assert services.order_ingest(connection=conn, order=good).invoice is not None
    assert _row(conn, good).invoice_error == ""
    _visible_everywhere(conn, bad, client)
    assert REASON in admin_client.get(f"/admin/pos/transaction/{row.pk}/change/").content.decode()
    # the delta sync's page: the sale is kept, the sync goes on
    from integrations.pos.square.sync import SquareOrderSync

    sync = SquareOrderSync(connection=conn)
    Transaction.objects.filter(pk=row.pk).delete()
    assert sync.apply([copy.deepcopy(bad)]) == 1
    assert REASON in _row(conn, bad).invoice_error


def test_a_live_sale_alone_and_a_backlog_keep_unmappable_sales_with_their_reason(sq, firs_merchant, client):
    org = firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd")
    conn = connect(org, sq)
    # alone (its event had not waited: order_ingest)
    alone = sq.create_sale(order=two_taxes_sale(), emit=False)["order"]
    event = stored(conn, order_event(merchant_id=conn.external_account_id, order=alone, event_id="alone"), waited=0)
    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(event.pk)}).get() == "failed"
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and REASON in event.error
    assert REASON in _row(conn, alone).invoice_error
    # a backlog: one unmappable sale among sales that map (the batch path)
    bad = sq.create_sale(order=two_taxes_sale(), emit=False)["order"]
    goods = [sq.create_sale(order=vat_sale(), emit=False)["order"] for _ in range(2)]
    events = [stored(conn, order_event(merchant_id=conn.external_account_id, order=o, event_id=o["id"]),
                     waited=3 - n * 0.1) for n, o in enumerate([goods[0], bad, goods[1]])]
    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(events[0].pk)}).get() == "processed"
    assert WebhookEvent.objects.get(pk=events[1].pk).status == WebhookEvent.Status.FAILED
    assert REASON in _row(conn, bad).invoice_error and _row(conn, bad).invoice_id is None
    for o in goods:
        assert _row(conn, o).invoice_id is not None and _row(conn, o).invoice_error == ""
    attention = _visible_everywhere(conn, bad, client)
    failed = {r["event"].event_id for r in attention if r["kind"] == "event"}
    assert failed == {"alone", bad["id"]}
    overview = client.get("/dashboard/").content.decode()
    assert f"/dashboard/connections/{conn.pk}" in overview and "Webhook event failed" in overview


def test_a_backlog_that_maps_writes_no_reason(sq, firs_merchant):
    """The live batch's happy path: no statement for a reason (the link of
    the invoices clears any old one in the statement it already was)."""
    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    orders = [sq.create_sale(order=vat_sale(), emit=False)["order"] for _ in range(3)]
    events = [stored(conn, order_event(merchant_id=conn.external_account_id, order=o, event_id=o["id"]),
                     waited=3 - n * 0.1) for n, o in enumerate(orders)]
    with CaptureQueriesContext(db_connection) as queries:
        assert tasks.process_webhook_event.apply(kwargs={"event_id": str(events[0].pk)}).get() == "processed"
    assert all(_row(conn, o).invoice_id for o in orders)
    assert not [q for q in queries if "invoice_error\" = v." in q["sql"]]

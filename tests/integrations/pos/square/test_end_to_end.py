"""End to end over real sockets: the merchant connects Square through the
dashboard (OAuth code flow with PKCE against the Square sandbox) → the sandbox
completes a sale and sends signed webhooks to our live server → a real Celery
worker on pos_realtime fetches the order, builds, stamps and transmits the
invoice to the FIRS sandbox → the invoice with IRN and QR is visible in the
dashboard, the API and the admin. Redelivery never makes a second invoice; a
refund becomes a credit note; disconnecting revokes the token at Square. An
exchange at the till becomes an invoice of what it sells and a credit note of
what it takes back, the difference refunded crediting nothing twice."""
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import httpx
import lxml.html
import pytest

from integrations.connections.models import Connection, WebhookEvent
from integrations.pos.models import Location, Transaction
from invoicing.models import Invoice, Submission

from .fixtures import connect, exchange_a_jollof, start_worker, stop_worker, vat_sale
from tests.e2e import signed_in_http, wait_for

DONE = {Submission.State.CONFIRMED, Submission.State.TRANSMITTED}


@pytest.fixture
def merchant(firs_merchant):
    return firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd")


@pytest.fixture
def worker(square_sandbox, firs_sandbox, settings):
    from taxpoynt.celery import app

    app.control.purge()
    proc = start_worker(settings, queues="pos_realtime", firs_url=firs_sandbox.url, square_url=square_sandbox.url)
    yield proc
    stop_worker(proc)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_connect_sell_invoice_visible_everywhere(client, live_server, settings, merchant, sq, square_sandbox,
                                                 firs_sandbox, worker, make_user):
    settings.PUBLIC_BASE_URL = live_server.url
    notification_url = live_server.url + "/webhooks/pos/square"
    sq.set_subscription(notification_url=notification_url, signature_key=settings.SQUARE_WEBHOOK_SIGNATURE_KEY)
    http = signed_in_http(client, live_server, merchant.owner)

    # 1. Connect through the dashboard; Square's consent page sends us back.
    page = http.get("/dashboard/connections/")
    assert page.status_code == 200 and "Square" in page.text
    csrf = http.cookies["csrftoken"]
    start = http.post("/dashboard/connections/connect/square", data={"csrfmiddlewaretoken": csrf})
    assert start.status_code == 302
    authorize_url = start.headers["location"]
    assert authorize_url.startswith(square_sandbox.url + "/oauth2/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]  # PKCE
    assert query["redirect_uri"] == live_server.url + "/api/v1/pos/square/callback"
    consent = httpx.get(authorize_url)
    assert consent.status_code == 200
    form = {i.get("name"): i.get("value") or "" for i in lxml.html.fromstring(consent.text).iter("input")}
    granted = httpx.post(square_sandbox.url + "/oauth2/authorize",
                         data={**form, "merchant_id": sq.default_merchant_id, "decision": "allow"})
    assert granted.status_code == 302
    callback = http.get(granted.headers["location"])
    assert callback.status_code == 302, callback.text[:500]
    conn = Connection.objects.get(organization=merchant, vendor="square")
    assert conn.status == Connection.Status.CONNECTED and conn.external_account_id == sq.default_merchant_id
    assert conn.display_name == "Mama Put Lagos Ltd"
    creds = __import__("json").loads(conn.credentials)
    assert creds["pkce"] is True and creds["access_token"].startswith("EAAA")
    assert conn.token_expires_at is not None
    # The worker reads the merchant's locations (enqueued once the connection committed).
    wait_for(lambda: Location.objects.filter(connection=conn).count() == 2, what="locations", worker=worker)
    locations = http.get("/api/v1/pos/locations").json()["results"]
    assert {x["external_id"] for x in locations} == set(sq.locations)

    # 2. A completed sale at the first location: the sandbox sends four signed webhooks.
    location_id = sorted(sq.locations)[0]
    sale = sq.create_sale(order=vat_sale(), location_id=location_id)
    order_id = sale["order"]["id"]

    # 3. The worker invoices it and FIRS confirms.
    invoice = wait_for(lambda: Invoice.objects.filter(source_system="square", source_id=order_id).first(),
                    what="the invoice", worker=worker)
    submission = wait_for(lambda: Submission.objects.filter(invoice=invoice, state__in=DONE).first(),
                       what="FIRS transmission", worker=worker)
    assert submission.queue == "pos_realtime"
    invoice.refresh_from_db()
    assert invoice.irn and invoice.stamp and invoice.number and merchant.firs_service_id in invoice.irn
    assert str(invoice.tax_exclusive_amount) == "5000.00" and str(invoice.tax_amount) == "375.00"
    assert not invoice.tax_mismatch and invoice.customer_tin == ""  # B2C walk-in
    txn = Transaction.objects.get(connection=conn, external_id=order_id)
    assert txn.invoice_id == invoice.pk and txn.status == Transaction.Status.COMPLETED
    assert str(txn.total_amount) == "5375.00" and str(txn.tax_amount) == "375.00"
    events = dict(WebhookEvent.objects.filter(vendor="square").values_list("event_type", "status"))
    wait_for(lambda: not WebhookEvent.objects.filter(vendor="square", status__in=["received", "processing"]).exists(),
          what="events settled", worker=worker)
    assert {"order.created", "payment.created", "payment.updated", "order.updated"} <= set(events)

    # 4. Visible in the dashboard …
    rows = http.get("/dashboard/transactions/live").json()["results"]
    assert [r["invoice_number"] for r in rows if r["external_id"] == order_id] == [invoice.number]
    detail = http.get(f"/dashboard/invoices/{invoice.pk}")
    assert detail.status_code == 200 and invoice.irn in detail.text
    # … the API …
    api_txns = http.get("/api/v1/pos/transactions", params={"status": "completed"}).json()["results"]
    assert [t["invoice_id"] for t in api_txns] == [str(invoice.pk)]
    assert http.get(f"/api/v1/invoices/{invoice.pk}").json()["irn"] == invoice.irn
    qr = http.get(f"/api/v1/invoices/{invoice.pk}/qr.png")
    assert qr.status_code == 200 and qr.content[:8] == b"\x89PNG\r\n\x1a\n"
    # … and the admin.
    admin = signed_in_http(client, live_server, make_user(is_staff=True, is_superuser=True))
    admin_page = admin.get(f"/admin/invoicing/invoice/{invoice.pk}/change/")
    assert admin_page.status_code == 200 and invoice.irn in admin_page.text

    # 5. Square redelivers an event: acknowledged, no second invoice.
    delivered = [d for d in sq.deliveries() if d["type"] == "order.updated" and d["ok"]]
    sq.redeliver(delivered[-1]["event_id"])
    time.sleep(1.0)
    assert Invoice.objects.filter(source_system="square", source_id=order_id).count() == 1
    assert firs_sandbox.app.sandbox.requests["sign"] == 1

    # 6. A refund becomes a credit note referencing the sale's invoice.
    refund = sq.refund_payment(payment_id=sale["payment"]["id"], reason="Cold food",
                               line_items=[{"source_line_item_uid": "jollof", "quantity": "1"}])
    credit = wait_for(lambda: Invoice.objects.filter(source_system="square", source_type="refund").first(),
                   what="the credit note", worker=worker)
    wait_for(lambda: Submission.objects.filter(invoice=credit, state__in=DONE).first(), what="credit note at FIRS",
          worker=worker)
    credit.refresh_from_db()
    assert credit.kind == Invoice.Kind.CREDIT_NOTE and credit.original_invoice_id == invoice.pk
    assert str(credit.payable_amount) == "2687.50" and credit.source_id == refund["id"]

    # 7. Disconnect: the token is revoked at Square and erased here.
    access_token = creds["access_token"]
    http = signed_in_http(client, live_server, merchant.owner)  # the admin sign-in above replaced the session
    http.get(f"/dashboard/connections/{conn.pk}")
    csrf = http.cookies.get("csrftoken") or csrf
    resp = http.post(f"/dashboard/connections/{conn.pk}/disconnect",
                     data={"csrfmiddlewaretoken": csrf, "confirm": "yes"})
    assert resp.status_code == 302, resp.text[:300]
    assert resp.headers["location"] == "/dashboard/connections/", resp.headers
    conn.refresh_from_db()
    assert conn.status == Connection.Status.DISCONNECTED and conn.credentials == ""
    assert sq.access_tokens[access_token]["revoked"] is True


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_exchanges_at_the_till_are_invoiced_and_credited_once(live_server, settings, merchant, sq, square_sandbox,
                                                              firs_sandbox, worker):
    """A sale of two jollof; one is exchanged for a dearer juice (the buyer
    pays the difference: no refund), the other for a cheaper one (the
    difference refunded). Square's exchange orders (returns + line items),
    their payment and refund reach the worker as signed webhooks; FIRS
    confirms each juice's invoice and one credit note of each jollof, on
    the sale's invoice."""
    settings.PUBLIC_BASE_URL = live_server.url
    sq.set_subscription(notification_url=live_server.url + "/webhooks/pos/square",
                        signature_key=settings.SQUARE_WEBHOOK_SIGNATURE_KEY)
    connect(merchant, sq)
    sale = sq.create_sale(order=vat_sale(), location_id=sorted(sq.locations)[0])
    invoice = wait_for(lambda: Invoice.objects.filter(source_id=sale["order"]["id"], irn__gt="").first(),
                       what="the sale's invoice with its IRN", worker=worker)

    dearer = exchange_a_jollof(sq, sale, 400000)
    cheaper = exchange_a_jollof(sq, sale, 100000)
    assert dearer["payment"]["amount_money"]["amount"] == 430000 - 268750 and dearer["refund"] is None
    assert cheaper["refund"]["order_id"] == cheaper["order"]["id"] and cheaper["payment"] is None
    assert cheaper["refund"]["amount_money"]["amount"] == 268750 - 107500
    for exchange, payable, tax in ((dearer, "4300.00", "300.00"), (cheaper, "1075.00", "75.00")):
        order_id = exchange["order"]["id"]
        new = wait_for(lambda: Submission.objects.filter(invoice__source_id=order_id, state__in=DONE).first(),
                       what="the exchange's invoice at FIRS", worker=worker).invoice
        source_id = f"{order_id}:{sale['order']['id']}"
        credit = wait_for(lambda: Submission.objects.filter(invoice__source_id=source_id, state__in=DONE).first(),
                          what="its credit note at FIRS", worker=worker).invoice
        assert (new.kind, new.payable_amount, new.tax_amount, new.tax_mismatch) == (
            Invoice.Kind.INVOICE, Decimal(payable), Decimal(tax), False)
        assert (credit.kind, credit.source_type, credit.original_invoice_id, credit.payable_amount,
                credit.tax_amount, credit.tax_mismatch) == (
            Invoice.Kind.CREDIT_NOTE, "return", invoice.pk, Decimal("2687.50"), Decimal("187.50"), False)
        assert credit.irn and Transaction.objects.get(external_id=order_id).status == Transaction.Status.COMPLETED
    wait_for(lambda: not WebhookEvent.objects.filter(status__in=["received", "processing"]).exists(),
             what="events settled", worker=worker)
    assert {"payment.updated", "order.updated", "refund.updated"} <= set(
        WebhookEvent.objects.values_list("event_type", flat=True))
    assert not WebhookEvent.objects.filter(status="failed").exists()
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 2  # nothing credited twice


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_return_of_items_of_two_sales_is_credited_once_on_each_sales_invoice(live_server, settings, merchant, sq,
                                                                              square_sandbox, firs_sandbox, worker):
    """A buyer brings back a jollof of one receipt and the juice of another
    at once: Square's one return order (a return per sale) and its two
    refunds, one of each sale's payment, reach the worker as signed
    webhooks; FIRS confirms one credit note per refund, on its own sale's
    invoice, of that sale's item alone; nothing fails, nothing is credited
    twice."""
    settings.PUBLIC_BASE_URL = live_server.url
    sq.set_subscription(notification_url=live_server.url + "/webhooks/pos/square",
                        signature_key=settings.SQUARE_WEBHOOK_SIGNATURE_KEY)
    connect(merchant, sq)
    location_id = sorted(sq.locations)[0]
    sales = [sq.create_sale(order=vat_sale(), location_id=location_id),
             sq.create_sale(order=vat_sale(qty="1", price=100000), location_id=location_id)]
    invoices = [wait_for(lambda: Invoice.objects.filter(source_id=sale["order"]["id"], irn__gt="").first(),
                         what="the sale's invoice with its IRN", worker=worker) for sale in sales]

    returned = sq.create_return(reason="Two receipts", returns=[
        {"order_id": sale["order"]["id"], "line_items": [{"source_line_item_uid": "jollof", "quantity": "1"}]}
        for sale in sales])
    for sale, invoice, payable, tax in zip(sales, invoices, ("2687.50", "1075.00"), ("187.50", "75.00")):
        (refund,) = [r for r in returned["refunds"] if r["payment_id"] == sale["payment"]["id"]]
        assert refund["order_id"] == returned["order"]["id"]
        credit = wait_for(lambda: Submission.objects.filter(invoice__source_id=refund["id"], state__in=DONE).first(),
                          what="the refund's credit note at FIRS", worker=worker).invoice
        assert (credit.kind, credit.original_invoice_id, credit.payable_amount, credit.tax_amount,
                credit.tax_mismatch) == (Invoice.Kind.CREDIT_NOTE, invoice.pk, Decimal(payable), Decimal(tax), False)
        assert credit.irn and [line.quantity for line in credit.lines.all()] == [Decimal("1")]
    wait_for(lambda: not WebhookEvent.objects.filter(status__in=["received", "processing"]).exists(),
             what="events settled", worker=worker)
    assert set(WebhookEvent.objects.filter(event_type="refund.updated").values_list("status", flat=True)) == {
        WebhookEvent.Status.PROCESSED}
    assert not WebhookEvent.objects.filter(status="failed").exists()
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 2  # nothing credited twice

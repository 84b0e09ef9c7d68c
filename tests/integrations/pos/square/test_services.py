"""Square sales and refunds through the ingest path (integrations/pos/square/services.py)
against the Square sandbox over a real socket: every pricing shape the
sandbox makes (modifiers, line and order discounts, inclusive and additive
VAT, zero-rated lines, tips, service charges) becomes an invoice whose totals
agree with Square's; a disagreement is flagged; B2B by mapped TIN; refunds
become credit notes; duplicates never make a second invoice."""
import copy
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from integrations.connections.models import WebhookEvent
from integrations.pos.models import Location, Transaction
from integrations.pos.square import services
from integrations.pos.square.client import SquareClient
from integrations.pos.square.mapping import (SquareMappingError, order_to_canonical, returns_only_gift_cards,
                                             sells_only_gift_cards)
from invoicing.models import Invoice

from .fixtures import exchange_a_jollof, gift_card_line, m, order_event, vat_sale

pytestmark = pytest.mark.django_db


def _order(sq, conn, **kw):
    sale = sq.create_sale(emit=False, **kw)
    with services.client_for(conn) as client:
        return client.get_order(sale["order"]["id"]), sale


def test_every_sandbox_pricing_shape_agrees_with_square(sq, square_connection):
    tips = 0
    for _ in range(40):
        order, _sale = _order(sq, square_connection, random_sale=True)
        txn = services.order_ingest(connection=square_connection, order=order)
        invoice = txn.invoice
        assert invoice is not None, order["id"]
        assert not invoice.tax_mismatch, (order, invoice.source_figures)
        square_tax = Decimal(order["total_tax_money"]["amount"]) / 100
        tip = Decimal((order.get("total_tip_money") or {}).get("amount", 0)) / 100
        tips += bool(tip)
        # Square rounds VAT per line, EN 16931 per category: at most a kobo per line apart.
        slack = Decimal("0.01") * len(order["line_items"])
        assert abs(invoice.tax_amount - square_tax) <= slack
        # Tips are outside VAT: left off the invoice, kept on the transaction.
        assert abs(invoice.payable_amount - (Decimal(order["total_money"]["amount"]) / 100 - tip)) <= slack
        assert invoice.submissions.get().state == "draft", invoice.submissions.get().errors
        assert txn.tip_amount == tip and txn.status == Transaction.Status.COMPLETED
        assert invoice.customer_tin == ""  # B2C by default
    assert tips, "the random sales should include tipped ones"
    modifiers = sum(bool(li.get("modifiers")) for t in Transaction.objects.all() for li in t.raw["line_items"])
    service_charged = sum(bool(t.raw.get("service_charges")) for t in Transaction.objects.all())
    discounted = sum(bool(t.raw.get("discounts")) for t in Transaction.objects.all())
    inclusive = sum(any(x["type"] == "INCLUSIVE" for x in t.raw.get("taxes", [])) for t in Transaction.objects.all())
    assert modifiers and service_charged and discounted and 0 < inclusive < 40


def test_inclusive_and_additive_vat(sq, square_connection):
    additive, _ = _order(sq, square_connection, order=vat_sale(qty="2", price=250000))
    inclusive, _ = _order(sq, square_connection, order=vat_sale(qty="1", price=537500, tax_type="INCLUSIVE"))
    a = services.order_ingest(connection=square_connection, order=additive).invoice
    i = services.order_ingest(connection=square_connection, order=inclusive).invoice
    assert (a.tax_exclusive_amount, a.tax_amount, a.payable_amount) == (Decimal("5000.00"), Decimal("375.00"),
                                                                        Decimal("5375.00"))
    assert (i.tax_exclusive_amount, i.tax_amount, i.payable_amount) == (Decimal("5000.00"), Decimal("375.00"),
                                                                        Decimal("5375.00"))
    assert not a.tax_mismatch and not i.tax_mismatch


def test_square_figures_that_disagree_are_flagged(sq, square_connection):
    order, _ = _order(sq, square_connection, order=vat_sale())
    tampered = copy.deepcopy(order)
    tampered["total_tax_money"]["amount"] += 100  # Square says ₦1 more VAT than the lines give
    invoice = services.order_ingest(connection=square_connection, order=tampered).invoice
    assert invoice.tax_mismatch is True
    assert invoice.tax_amount == Decimal("375.00")  # ours stands; Square's is kept beside it
    assert invoice.source_figures


def test_b2b_when_a_customer_tin_is_mapped_on_the_connection_page(sq, square_connection, square_org, client):
    """The merchant maps the buyer's TIN (and name) to order metadata keys on
    the connection page (no stages: a Square sale has none); a sale carrying
    them is invoiced to that business, one without stays a walk-in sale."""
    client.force_login(square_org.owner)
    url = f"/dashboard/connections/{square_connection.pk}"
    page = client.get(url).content.decode()
    assert "won_stages" not in page and 'name="map:customer.tin"' in page
    assert 'name="map:line.classification_code"' not in page  # the Square mapper fills no line field
    response = client.post(url, {"tax_category": "ZERO_VAT", "tax_rate": "0", "exemption_reason": "Zero-rated supply",
                                 "map:customer.tin": "metadata.buyer_tin", "map:customer.name": "metadata.buyer_name"})
    assert response.status_code == 302, response.content.decode()
    square_connection.refresh_from_db()
    assert square_connection.field_map == {"customer.tin": "metadata.buyer_tin", "customer.name": "metadata.buyer_name"}
    assert "won_stages" not in square_connection.trigger_rule

    b2b, _ = _order(sq, square_connection, order=vat_sale(metadata={"buyer_tin": "87654321-0001",
                                                                    "buyer_name": "Zenith Foods Ltd"}))
    invoice = services.order_ingest(connection=square_connection, order=b2b).invoice
    assert (invoice.customer_tin, invoice.customer_name) == ("87654321-0001", "Zenith Foods Ltd")
    b2c, _ = _order(sq, square_connection, order=vat_sale())
    walk_in = services.order_ingest(connection=square_connection, order=b2c).invoice
    assert walk_in.customer_tin == "" and walk_in.pk != invoice.pk


def test_square_settings_are_checked_against_what_its_mapper_reads(sq, square_connection, square_org, client):
    client.force_login(square_org.owner)
    url = f"/dashboard/connections/{square_connection.pk}"
    response = client.post(url, {"tax_category": "ZERO_VAT", "tax_rate": "0", "exemption_reason": "Zero-rated supply",
                                 "map:customer.tin": "customer.tin"})
    assert response.status_code == 400
    assert "object one of metadata" in response.content.decode()
    square_connection.refresh_from_db()
    assert square_connection.field_map == {}


def test_the_merchant_chooses_whether_tips_and_levies_show_as_zero_rated_charges(sq, square_connection, square_org,
                                                                               client):
    """Left off by default; set in the connection's settings page, a tip and
    a 5 % consumption tax become zero-rated charges on the next invoice; a
    treatment the page does not offer is refused with its reason."""
    from .test_mapping import levy_order

    body = {k: v for k, v in levy_order().items() if k in ("line_items", "taxes", "discounts", "service_charges")}
    client.force_login(square_org.owner)
    url = f"/dashboard/connections/{square_connection.pk}"
    page = client.get(url).content.decode()
    assert 'name="tips"' in page and 'name="levies"' in page
    rule = {"tax_category": "ZERO_VAT", "tax_rate": "0", "exemption_reason": "Zero-rated supply"}
    refused = client.post(url, {**rule, "tips": "charge", "levies": "hide"})
    assert refused.status_code == 400 and "One of exclude, charge." in refused.content.decode()
    order, _ = _order(sq, square_connection, order=body, tip=20000)
    left_off = services.order_ingest(connection=square_connection, order=order).invoice
    reasons = {a["reason"] for a in left_off.canonical["allowance_charges"]}
    assert not reasons & {"Tip", "Consumption Tax 5%"} and not left_off.tax_mismatch

    assert client.post(url, {**rule, "tips": "charge", "levies": "charge"}).status_code == 302
    square_connection.refresh_from_db()
    assert (square_connection.trigger_rule["tips"], square_connection.trigger_rule["levies"]) == ("charge", "charge")
    order, _ = _order(sq, square_connection, order=body, tip=20000)
    charged = services.order_ingest(connection=square_connection, order=order).invoice
    charges = {a["reason"]: (a["amount"], a["tax_category"]) for a in charged.canonical["allowance_charges"]}
    assert charges["Tip"] == ("200.00", "ZERO_VAT") and charges["Consumption Tax 5%"][1] == "ZERO_VAT"
    assert not charged.tax_mismatch
    assert charged.payable_amount == Decimal(order["total_money"]["amount"]) / 100


def test_the_tax_rule_is_the_category_of_what_square_does_not_tax(sq, square_connection, square_org, client):
    from invoicing.models import InvoiceLine

    client.force_login(square_org.owner)
    response = client.post(f"/dashboard/connections/{square_connection.pk}",
                           {"tax_category": "EXEMPTED", "tax_rate": "0", "exemption_reason": "Basic food items"})
    assert response.status_code == 302, response.content.decode()
    square_connection.refresh_from_db()
    bread = {"line_items": [{"uid": "bread", "name": "Bread", "quantity": "1", "base_price_money": m(120000)}]}
    untaxed, _ = _order(sq, square_connection, order=bread)
    invoice = services.order_ingest(connection=square_connection, order=untaxed).invoice
    line = InvoiceLine.objects.filter(invoice=invoice).get()
    assert (line.tax_category, line.exemption_reason) == ("EXEMPTED", "Basic food items")


def test_unselected_location_and_open_orders_are_not_invoiced(sq, square_connection):
    loc = Location.objects.filter(connection=square_connection).order_by("external_id").first()
    loc.active = False
    loc.save()
    order, _ = _order(sq, square_connection, order=vat_sale(), location_id=loc.external_id)
    txn = services.order_ingest(connection=square_connection, order=order)
    assert txn.invoice_id is None and txn.status == Transaction.Status.COMPLETED
    open_order, _ = _order(sq, square_connection, order=vat_sale(), complete=False)
    assert services.order_ingest(connection=square_connection, order=open_order).invoice_id is None


def test_a_sale_of_gift_cards_only_is_not_invoiced(sq, square_connection):
    """A gift card is invoiced when it is redeemed, not when it is sold: the
    sale is mirrored, not invoiced, and not marked as failing either."""
    order, _ = _order(sq, square_connection, order={"line_items": [gift_card_line()]})
    assert sells_only_gift_cards(order)
    with pytest.raises(SquareMappingError):
        order_to_canonical(order)
    txn = services.order_ingest(connection=square_connection, order=order)  # no error: nothing to invoice
    assert txn.status == "completed" and txn.invoice_id is None and txn.invoice_error == ""
    assert services.orders_ingest(connection=square_connection, orders=[order])["not_invoiceable"] == 1


def test_a_refund_of_gift_cards_is_no_credit_note(sq, square_connection):
    """Gift cards were never invoiced (no supply until redeemed): refunding a
    sale of them credits nothing and is no error; the sale shows refunded.
    Nor is a return of only the gift card of a sale that also sold goods."""
    sale = sq.create_sale(order={"line_items": [gift_card_line()]}, emit=False)
    with services.client_for(square_connection) as client:
        txn = services.order_ingest(connection=square_connection, order=client.get_order(sale["order"]["id"]))
        refund = sq.refund_payment(payment_id=sale["payment"]["id"], reason="Changed my mind")
        assert services.refund_ingest(connection=square_connection, refund=client.get_refund(refund["id"]),
                                      client=client) is None
    txn.refresh_from_db()
    assert txn.status == Transaction.Status.REFUNDED and txn.invoice_id is None and txn.invoice_error == ""
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()
    card_returned = {"returns": [{"source_order_id": "sale", "return_line_items": [
        {**gift_card_line(), "uid": "r1", "source_line_item_uid": "gc"}]}]}
    goods_returned = {"returns": [{"source_order_id": "sale", "return_line_items": [
        {**gift_card_line(), "uid": "r1"}, {"uid": "r2", "name": "Jollof", "quantity": "1", "item_type": "ITEM"}]}]}
    assert returns_only_gift_cards(card_returned) and not returns_only_gift_cards(goods_returned)


def _event(conn, body: bytes, event_id: str, event_type: str) -> WebhookEvent:
    return WebhookEvent.objects.create(vendor="square", event_id=event_id, event_type=event_type,
                                       organization_id=conn.organization_id, connection=conn, raw_body=body,
                                       headers={})


def test_order_and_payment_events_make_one_invoice(sq, square_connection):
    import json

    sale = sq.create_sale(order=vat_sale(), emit=False)
    order = sale["order"]
    for n, etype in enumerate(["order.updated", "order.updated", "payment.updated"]):
        if etype == "payment.updated":
            payload = {"merchant_id": square_connection.external_account_id, "type": etype, "event_id": f"e{n}",
                       "data": {"type": "payment", "id": sale["payment"]["id"],
                                "object": {"payment": sale["payment"]}}}
        else:
            payload = order_event(merchant_id=square_connection.external_account_id, order=order, event_id=f"e{n}")
        event = _event(square_connection, json.dumps(payload).encode(), f"e{n}", etype)
        assert services.webhook_event_process(event=event) == WebhookEvent.Status.PROCESSED
    assert Invoice.objects.filter(source_system="square", source_id=order["id"]).count() == 1


def test_the_sales_order_read_is_in_the_audit_trail(sq, square_connection):
    import json

    from integrations.connections.models import VendorExchange

    order = sq.create_sale(order=vat_sale(), emit=False)["order"]
    payload = order_event(merchant_id=square_connection.external_account_id, order=order, event_id="a1")
    event = _event(square_connection, json.dumps(payload).encode(), "a1", "order.updated")
    assert services.webhook_event_process(event=event) == WebhookEvent.Status.PROCESSED
    read = VendorExchange.objects.get(vendor="square", url__endswith=f"/v2/orders/{order['id']}")
    assert (read.method, read.status_code, read.connection_id, read.organization_id) == (
        "GET", 200, square_connection.pk, square_connection.organization_id)
    assert json.loads(read.response_body)["order"]["id"] == order["id"]


def test_open_order_event_is_ignored(sq, square_connection):
    import json

    sale = sq.create_sale(order=vat_sale(), emit=False, complete=False)
    payload = order_event(merchant_id=square_connection.external_account_id, order=sale["order"], event_id="o1",
                          state="OPEN")
    event = _event(square_connection, json.dumps(payload).encode(), "o1", "order.updated")
    assert services.webhook_event_process(event=event) == WebhookEvent.Status.IGNORED
    assert not Transaction.objects.exists()


def test_refund_becomes_a_credit_note_once_the_sale_has_an_irn(sq, square_connection):
    sale = sq.create_sale(order=vat_sale(), emit=False)
    with services.client_for(square_connection) as client:
        txn = services.order_ingest(connection=square_connection, order=client.get_order(sale["order"]["id"]))
        refund = sq.refund_payment(payment_id=sale["payment"]["id"], reason="Wrong order")
        refund = client.get_refund(refund["id"])
        assert refund["status"] == "COMPLETED"
        with pytest.raises(services.InvoiceNotReady):  # no IRN yet: the task retries later
            services.refund_ingest(connection=square_connection, refund=refund, client=client)
        Invoice.objects.filter(pk=txn.invoice_id).update(irn="INV000001-59854B81-20261122", number="INV000001")
        credit = services.refund_ingest(connection=square_connection, refund=refund, client=client)
        again = services.refund_ingest(connection=square_connection, refund=refund, client=client)
    assert credit.pk == again.pk and credit.kind == Invoice.Kind.CREDIT_NOTE
    assert credit.original_invoice_id == txn.invoice_id and credit.payable_amount == Decimal("5375.00")
    assert credit.credit_reason == "Wrong order"
    assert Transaction.objects.get(pk=txn.pk).status == Transaction.Status.REFUNDED


def test_a_partial_refund_leaves_the_sale_partly_refunded_until_the_rest_is_refunded(sq, square_connection):
    sale = sq.create_sale(order=vat_sale(), emit=False)
    with services.client_for(square_connection) as client:
        txn = services.order_ingest(connection=square_connection, order=client.get_order(sale["order"]["id"]))
        Invoice.objects.filter(pk=txn.invoice_id).update(irn="INV000001-59854B81-20261122", number="INV000001")
        total = sale["payment"]["total_money"]["amount"]
        part = sq.refund_payment(payment_id=sale["payment"]["id"], amount=total // 4)
        services.refund_ingest(connection=square_connection, refund=client.get_refund(part["id"]), client=client)
        txn.refresh_from_db()
        assert txn.status == Transaction.Status.PARTLY_REFUNDED
        rest = sq.refund_payment(payment_id=sale["payment"]["id"], amount=total - total // 4,
                                 idempotency_key="the-rest")
        services.refund_ingest(connection=square_connection, refund=client.get_refund(rest["id"]), client=client)
    txn.refresh_from_db()
    assert txn.status == Transaction.Status.REFUNDED
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE, original_invoice=txn.invoice_id).count() == 2


def test_a_refunds_return_order_is_no_sale(sq, square_connection):
    """Square records a refund as a COMPLETED order of its own, with
    `returns` and no line items: its webhooks are ignored (not failed), and
    the end of day neither mirrors it as a sale nor counts it as one left
    un-invoiced; the credit note comes from the refund."""
    import json

    from django.utils import timezone

    sale = sq.create_sale(order=vat_sale(), emit=False)
    with services.client_for(square_connection) as client:
        services.order_ingest(connection=square_connection, order=client.get_order(sale["order"]["id"]))
        return_order = client.get_order(sq.refund_payment(payment_id=sale["payment"]["id"])["order_id"])
    assert return_order["returns"] and not return_order.get("line_items")

    live = _event(square_connection, json.dumps(order_event(merchant_id=square_connection.external_account_id,
                                                            order=return_order, event_id="r1")).encode(),
                  "r1", "order.updated")
    assert services.webhook_event_process(event=live) == WebhookEvent.Status.IGNORED
    backlog = _event(square_connection, json.dumps(order_event(merchant_id=square_connection.external_account_id,
                                                               order=return_order, event_id="r2")).encode(),
                     "r2", "order.updated")
    assert services.webhook_events_process(events=[backlog]) == {backlog.pk: (WebhookEvent.Status.IGNORED, "")}

    assert services.reconcile_day(connection=square_connection, day=timezone.localdate())["invoiced_now"] == 0
    assert list(Transaction.objects.values_list("external_id", flat=True)) == [sale["order"]["id"]]
    with services.client_for(square_connection) as client:
        counts = services.orders_ingest(connection=square_connection, orders=[return_order], client=client)
    assert (counts["returns"], counts["unmappable"], counts["invoiced"]) == (1, 0, 0)
    assert services.order_ingest(connection=square_connection, order=return_order) is None
    assert not Transaction.objects.filter(external_id=return_order["id"]).exists()


def test_reconciliation_invoices_sales_whose_webhooks_were_lost(sq, square_connection):
    from django.utils import timezone

    for _ in range(3):
        sq.create_sale(random_sale=True, emit=False)  # no webhook ever arrives
    sale = sq.create_sale(order=vat_sale(), emit=False)
    with services.client_for(square_connection) as client:
        services.order_ingest(connection=square_connection, order=client.get_order(sale["order"]["id"]))
    result = services.reconcile_day(connection=square_connection, day=timezone.localdate())
    assert result == {"completed": 4, "invoiced_now": 3, "credited_now": 0}
    assert Transaction.objects.filter(invoice__isnull=False).count() == 4
    assert services.reconcile_day(connection=square_connection, day=timezone.localdate())["invoiced_now"] == 0


def test_reconciliation_credits_refunds_whose_webhooks_were_lost(sq, square_connection):
    """A refund no webhook brought: the end of day lists the day's completed
    refunds (ListPaymentRefunds) and makes each missing credit note, once,
    on `batch`; one whose sale has no IRN yet is left for a later run."""
    from django.utils import timezone

    from invoicing.models import Submission

    sales = [sq.create_sale(order=vat_sale(), emit=False) for _ in range(2)]
    with services.client_for(square_connection) as client:
        txns = [services.order_ingest(connection=square_connection, order=client.get_order(s["order"]["id"]))
                for s in sales]
    refunds = [sq.refund_payment(payment_id=s["payment"]["id"], reason="Returned") for s in sales]  # no webhook
    Invoice.objects.filter(pk=txns[0].invoice_id).update(irn="INV000001-59854B81-20261122", number="INV000001")

    day = timezone.localdate()
    assert services.reconcile_day(connection=square_connection, day=day)["credited_now"] == 1  # the second: no IRN
    credit = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert (credit.source_id, credit.original_invoice_id) == (refunds[0]["id"], txns[0].invoice_id)
    assert credit.submissions.get().queue == "batch"
    assert Transaction.objects.get(pk=txns[0].pk).status == Transaction.Status.REFUNDED

    Invoice.objects.filter(pk=txns[1].invoice_id).update(irn="INV000002-59854B81-20261122", number="INV000002")
    assert services.reconcile_day(connection=square_connection, day=day)["credited_now"] == 1
    assert services.reconcile_day(connection=square_connection, day=day)["credited_now"] == 0
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 2
    assert set(Submission.objects.filter(invoice__kind=Invoice.Kind.CREDIT_NOTE)
               .values_list("queue", flat=True)) == {"batch"}


def test_reconciliation_credits_a_refund_in_the_window_it_completed_not_the_one_it_was_created(
        sq, square_connection):
    """A card refund created PENDING in one window and COMPLETED in the next
    (no webhook): the first window's run has nothing to credit, the second's
    makes its credit note (refunds are listed by their last update)."""
    sale = sq.create_sale(order=vat_sale(), emit=False)
    with services.client_for(square_connection) as client:
        txn = services.order_ingest(connection=square_connection, order=client.get_order(sale["order"]["id"]))
    Invoice.objects.filter(pk=txn.invoice_id).update(irn="INV000001-59854B81-20261122", number="INV000001")
    first_start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    refund = sq.refund_payment(payment_id=sale["payment"]["id"], reason="Returned", complete=False)
    boundary = dt.datetime.now(dt.timezone.utc) + dt.timedelta(milliseconds=5)
    boundary = boundary.replace(microsecond=boundary.microsecond // 1000 * 1000)  # Square's times are in ms
    while dt.datetime.now(dt.timezone.utc) < boundary:
        pass
    sq.complete_refund(refund["id"])
    second_end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)

    first = services.reconcile_window(connection=square_connection, start=first_start, end=boundary)
    assert first["credited_now"] == 0 and not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()
    second = services.reconcile_window(connection=square_connection, start=boundary, end=second_end)
    assert second["credited_now"] == 1
    assert Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE).source_id == refund["id"]


def test_reconciliation_pages_through_the_day_on_the_batch_queue_past_an_unmappable_sale(sq, square_connection,
                                                                                          monkeypatch):
    from django.utils import timezone

    from integrations.pos.square import constants
    from invoicing.models import Submission

    monkeypatch.setattr(constants, "SEARCH_DEFAULT_LIMIT", 3)  # three pages
    for _ in range(6):
        sq.create_sale(random_sale=True, emit=False)
    odd = vat_sale()
    odd["taxes"][0]["percentage"] = "5"  # no FIRS tax category for 5 %: cannot be mapped
    unmappable = sq.create_sale(order=odd, emit=False)["order"]["id"]
    sq.create_sale(order=vat_sale(), emit=False)
    result = services.reconcile_day(connection=square_connection, day=timezone.localdate())
    assert result == {"completed": 8, "invoiced_now": 7, "credited_now": 0}
    assert Transaction.objects.get(external_id=unmappable).invoice_id is None
    invoiced = Transaction.objects.filter(connection=square_connection, invoice__isnull=False)
    assert invoiced.count() == 7 and invoiced.values("invoice").distinct().count() == 7
    # Live sales run on pos_realtime; a whole lost day must never queue in front of them.
    assert list(Submission.objects.filter(invoice__connection=square_connection)
                .values_list("queue", flat=True).distinct()) == ["batch"]


def test_a_page_of_orders_makes_what_the_one_by_one_path_makes(sq, square_connection):
    """orders_ingest (the batch path) and order_ingest (the live one) store
    the same Transaction, invoice and lines for the same orders."""
    from django.db import transaction

    def snapshot():
        skip = {"id", "invoice_id", "created_at", "updated_at"}
        rows = {}
        for txn in Transaction.objects.filter(connection=square_connection).select_related("invoice"):
            inv = txn.invoice
            rows[txn.external_id] = (
                {f.attname: getattr(txn, f.attname) for f in Transaction._meta.concrete_fields if f.attname not in skip},
                {f.attname: getattr(inv, f.attname) for f in Invoice._meta.concrete_fields if f.attname not in skip},
                list(inv.lines.values_list("position", "description", "quantity", "unit_price", "allowance_amount",
                                           "charge_amount", "line_extension_amount", "tax_category", "tax_rate")),
                inv.submissions.get().state)
        return rows

    sales = [sq.create_sale(random_sale=True, emit=False)["order"]["id"] for _ in range(5)]
    with services.client_for(square_connection) as client:
        orders = [client.get_order(i) for i in sales]
        with transaction.atomic():
            for order in orders:
                services.order_ingest(connection=square_connection, order=order, client=client)
            one_by_one = snapshot()
            transaction.set_rollback(True)
        assert Transaction.objects.filter(connection=square_connection).count() == 0
        counts = services.orders_ingest(connection=square_connection, orders=orders, client=client)
    invoices = counts.pop("invoices")
    assert counts == {"orders": 5, "invoiced": 5, "already_invoiced": 0, "not_invoiceable": 0, "unmappable": 0,
                      "returns": 0, "credited": 0, "errors": {}}
    assert [i.source_id for i in invoices] == sales
    assert set(one_by_one) == set(sales)
    assert snapshot() == one_by_one
    with services.client_for(square_connection) as client:
        again = services.orders_ingest(connection=square_connection, orders=orders, client=client)
    assert again["already_invoiced"] == 5 and again["invoiced"] == 0


def test_client_errors_are_the_frameworks(square_sandbox):
    from integrations.connections import http

    with SquareClient(base_url=square_sandbox.url, access_token="nope") as client:
        with pytest.raises(http.VendorAuthError):
            client.list_locations()


def test_reconciliation_beat_runs_on_the_batch_queue():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="square: end-of-day reconciliation")
    assert task.task == "integrations.pos.square.tasks.batch_reconcile_day" and task.queue == "batch"
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("1", "0", "Africa/Lagos")


def test_reconcile_task_sends_the_day_in_windows_to_the_batch_workers(sq, square_connection, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    from integrations.pos.square import tasks

    sent = []
    # Observe the enqueue call itself; the broker is the real Redis in every other respect.
    monkeypatch.setattr(tasks.batch_reconcile_window, "apply_async", lambda kwargs=None, queue=None, **kw:
                        sent.append((kwargs, queue)))
    sq.create_sale(order=vat_sale(), emit=False)
    sq.create_sale(random_sale=True, emit=False)
    today = timezone.localdate()
    assert tasks.batch_reconcile_day.apply(kwargs={"day": today.isoformat()}).get() == services.RECONCILE_WINDOWS
    assert {queue for _, queue in sent} == {"batch"}
    windows = [(dt.datetime.fromisoformat(k["start"]), dt.datetime.fromisoformat(k["end"])) for k, _ in sent]
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:]))  # back to back, the whole day
    assert windows[0][0].date() == today and windows[-1][1] - windows[0][0] == dt.timedelta(days=1)
    totals = [tasks.batch_reconcile_window.apply(kwargs=k).get() for k, _ in sent]
    assert sum(t["completed"] for t in totals) == sum(t["invoiced_now"] for t in totals) == 2
    assert Transaction.objects.filter(connection=square_connection, invoice__isnull=False).count() == 2


def test_a_sale_the_sweep_confirms_is_timed_from_its_webhook(sq, firs_merchant, firs_sandbox):
    """FIRS refuses the webhook task's first call (503): the due-submission
    sweep confirms the sale later, and pos_sale_to_confirmed_seconds counts it
    from the webhook's receipt, not from the sweep."""
    import datetime
    import json

    from django.utils import timezone
    from prometheus_client import REGISTRY

    from invoicing.models import Submission
    from invoicing.services import submission_process

    from .fixtures import connect

    def timed(stat):
        return REGISTRY.get_sample_value(f"pos_sale_to_confirmed_seconds_{stat}", {"vendor": "square"}) or 0

    conn = connect(firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd"), sq)
    order = sq.create_sale(order=vat_sale(), emit=False)["order"]
    payload = order_event(merchant_id=conn.external_account_id, order=order, event_id="late1")
    event = _event(conn, json.dumps(payload).encode(), "late1", "order.updated")
    event.received_at = timezone.now() - datetime.timedelta(seconds=5)
    event.save(update_fields=["received_at"])
    firs_sandbox.app.sandbox.set_fault("validate", "503", times=1)
    count, total = timed("count"), timed("sum")

    assert services.webhook_event_process(event=event) == WebhookEvent.Status.PROCESSED
    sub = Submission.objects.get(invoice__source_system="square", invoice__source_id=order["id"])
    assert sub.state != Submission.State.CONFIRMED and sub.next_attempt_at is not None  # FIRS said 503
    assert sub.source_received_at == event.received_at
    assert timed("count") == count

    Submission.objects.filter(pk=sub.pk).update(next_attempt_at=None)  # its backoff, elapsed
    assert submission_process(submission_id=sub.pk).state == Submission.State.CONFIRMED
    assert timed("count") == count + 1
    assert 5 <= timed("sum") - total < 60


@pytest.mark.parametrize("tax_type", ["ADDITIVE", "INCLUSIVE"])
def test_a_sale_with_vat_and_a_consumption_tax_is_invoiced_and_credited(sq, square_connection, tax_type):
    """A Lagos restaurant's sale carrying 7.5 % VAT and the 5 % consumption tax:
    invoiced (the levy left off, no mismatch), its UBL passing the XSD and
    the EN 16931 schematron; its refund credited in full."""
    from invoicing.canonical import canonical_from_dict
    from invoicing.documents import render

    from .test_mapping import levy_order

    body = {k: v for k, v in levy_order(tax_type).items() if k in ("line_items", "taxes", "discounts",
                                                                   "service_charges")}
    sale = sq.create_sale(order=body, emit=False)
    with services.client_for(square_connection) as client:
        order = client.get_order(sale["order"]["id"])
        txn = services.order_ingest(connection=square_connection, order=order)
        invoice = txn.invoice
        levy = next(t for t in order["taxes"] if t["uid"] == "levy")["applied_money"]["amount"]
        assert invoice is not None and not invoice.tax_mismatch
        assert invoice.tax_amount == (invoice.tax_exclusive_amount * Decimal("0.075")).quantize(
            Decimal("0.01"), ROUND_HALF_UP)
        assert abs(invoice.payable_amount - Decimal(order["total_money"]["amount"] - levy) / 100) <= Decimal("0.01")
        numbered = canonical_from_dict(invoice.canonical)
        numbered.number, numbered.irn = "INV000001", "INV000001-59854B81-20261122"
        assert render(numbered, business_id="3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10").source_mismatch is None
        Invoice.objects.filter(pk=invoice.pk).update(irn=numbered.irn, number=numbered.number)
        refund = sq.refund_payment(payment_id=sale["payment"]["id"], reason="Wrong order")
        credit = services.refund_ingest(connection=square_connection, refund=client.get_refund(refund["id"]),
                                        client=client)
    assert credit.kind == Invoice.Kind.CREDIT_NOTE and credit.original_invoice_id == invoice.pk
    assert (credit.tax_amount, credit.payable_amount) == (invoice.tax_amount, invoice.payable_amount)
    assert not credit.tax_mismatch
    note = canonical_from_dict(credit.canonical)
    note.number, note.irn = "CN000001", "CN000001-59854B81-20261122"
    assert render(note, business_id="3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10").source_mismatch is None


@pytest.mark.parametrize("tax_type", ["ADDITIVE", "INCLUSIVE"])
def test_an_amount_refund_of_a_sale_with_vat_and_a_consumption_tax_credits_the_vat_share(sq, square_connection,
                                                                                         tax_type):
    """₦1,125 paid back of a sale taxed 7.5 % VAT and 5 % consumption tax:
    the return carries both taxes in the sale's proportions, so the credit
    note takes back VAT of 75.00 (7.5/112.5 of it) and the levy's 50.00 is
    left off, as on the sale; the sandbox once taxed it all at the first tax
    (VAT of 78.49)."""
    from invoicing.canonical import canonical_from_dict
    from invoicing.documents import render

    from .test_mapping import levy_order

    body = {k: v for k, v in levy_order(tax_type).items() if k in ("line_items", "taxes", "discounts",
                                                                   "service_charges")}
    sale = sq.create_sale(order=body, emit=False)
    with services.client_for(square_connection) as client:
        txn = services.order_ingest(connection=square_connection, order=client.get_order(sale["order"]["id"]))
        _irn(txn)
        refund = sq.refund_payment(payment_id=sale["payment"]["id"], amount=112500, reason="Cold")
        returned = client.get_order(refund["order_id"])["returns"][0]
        credit = services.refund_ingest(connection=square_connection, refund=client.get_refund(refund["id"]),
                                        client=client)
    assert sorted((t["source_tax_uid"], t["applied_money"]["amount"]) for t in returned["return_taxes"]) == [
        ("levy", 5000), ("vat", 7500)]
    assert (credit.kind, credit.original_invoice_id) == (Invoice.Kind.CREDIT_NOTE, txn.invoice_id)
    assert (credit.tax_amount, credit.payable_amount, credit.tax_mismatch) == (Decimal("75.00"), Decimal("1075.00"),
                                                                                False)
    note = canonical_from_dict(credit.canonical)
    note.number, note.irn = "CN000001", "CN000001-59854B81-20261122"
    assert render(note, business_id="3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10").source_mismatch is None


def _irn(txn, n=1):
    Invoice.objects.filter(pk=txn.invoice_id).update(irn=f"INV{n:06d}-59854B81-20261122", number=f"INV{n:06d}")


def _sold(sq, conn, **kw):
    """A sale of three jollof (₦2,500 + 7.5 % VAT each), invoiced, with an IRN."""
    sale = sq.create_sale(order=vat_sale(qty="3", price=250000), emit=False, **kw)
    with services.client_for(conn) as client:
        txn = services.order_ingest(connection=conn, order=client.get_order(sale["order"]["id"]))
    _irn(txn)
    return sale, txn


def _order_updated(conn, order, event_id):
    import json

    body = json.dumps(order_event(merchant_id=conn.external_account_id, order=order, event_id=event_id)).encode()
    return _event(conn, body, event_id, "order.updated")


def _refund_updated(conn, refund, event_id):
    import json

    body = json.dumps({"merchant_id": conn.external_account_id, "type": "refund.updated", "event_id": event_id,
                       "data": {"type": "refund", "id": refund["id"], "object": {"refund": refund}}}).encode()
    return _event(conn, body, event_id, "refund.updated")


def _credits():
    return list(Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).values_list(
        "source_type", "source_id", "original_invoice_id", "payable_amount", "tax_amount"))


def test_an_even_exchange_credits_what_it_takes_back_and_invoices_what_it_sells(sq, square_connection):
    """No refund, no payment: the exchange's order event alone credits the
    returned jollof on its sale's invoice and invoices the new item on its
    own, at its own figures; the row shows what it sold. A backlog gives
    the event back to run alone (it may wait for the sale's IRN); a repeat
    makes nothing more."""
    sale, txn = _sold(sq, square_connection)
    exchange = exchange_a_jollof(sq, sale, 250000, emit=False)
    order = exchange["order"]
    assert exchange["payment"] is None and exchange["refund"] is None and order["net_amounts"]["total_money"][
        "amount"] == 0

    backlog = _order_updated(square_connection, order, "x0")
    assert services.webhook_events_process(events=[backlog]) == {backlog.pk: (WebhookEvent.Status.RECEIVED, "")}
    for event_id in ("x1", "x2"):
        assert services.webhook_event_process(event=_order_updated(square_connection, order, event_id)) == \
            WebhookEvent.Status.PROCESSED
    assert _credits() == [("return", f"{order['id']}:{sale['order']['id']}", txn.invoice_id, Decimal("2687.50"),
                           Decimal("187.50"))]
    row = Transaction.objects.get(external_id=order["id"])
    assert (row.status, row.total_amount, row.tax_amount) == (Transaction.Status.COMPLETED, Decimal("2687.50"),
                                                              Decimal("187.50"))
    assert (row.invoice.kind, row.invoice.payable_amount, row.invoice.tax_mismatch) == (
        Invoice.Kind.INVOICE, Decimal("2687.50"), False)
    assert [line.description for line in row.invoice.lines.all()] == ["Juice"]


@pytest.mark.parametrize("first", ["order", "refund"])
def test_an_exchanges_refund_credits_nothing_twice_whichever_event_comes_first(sq, square_connection, first):
    """A cheaper exchange: the difference is refunded (its order_id is the
    exchange). Its order event and its refund event, in either order and
    each retried, make one credit note of the returned jollof (not of the
    difference) and one invoice of the new item; a plain refund still makes
    its own credit note."""
    sale, txn = _sold(sq, square_connection)
    exchange = exchange_a_jollof(sq, sale, 100000, emit=False)
    order, refund = exchange["order"], exchange["refund"]
    assert refund["status"] == "COMPLETED" and refund["order_id"] == order["id"]
    assert refund["amount_money"]["amount"] == 268750 - 107500
    events = {"order": lambda n: _order_updated(square_connection, order, f"o{n}"),
              "refund": lambda n: _refund_updated(square_connection, refund, f"r{n}")}
    second = "refund" if first == "order" else "order"
    for n, kind in enumerate((first, second, first, second)):
        event = events[kind](n)
        assert services.webhook_event_process(event=event) == WebhookEvent.Status.PROCESSED
    assert _credits() == [("return", f"{order['id']}:{sale['order']['id']}", txn.invoice_id, Decimal("2687.50"),
                           Decimal("187.50"))]
    assert Invoice.objects.filter(kind=Invoice.Kind.INVOICE, source_id=order["id"]).get().payable_amount == \
        Decimal("1075.00")
    assert Transaction.objects.get(external_id=order["id"]).status == Transaction.Status.COMPLETED

    plain = sq.refund_payment(payment_id=sale["payment"]["id"], amount=50000, reason="Cold")  # an amount only
    with services.client_for(square_connection) as client:
        credit = services.refund_ingest(connection=square_connection, refund=client.get_refund(plain["id"]),
                                        client=client)
    assert (credit.source_type, credit.source_id, credit.payable_amount) == ("refund", plain["id"], Decimal("500.00"))


def test_an_exchanges_refund_reads_its_returns_once(sq, square_connection):
    """The refund of an exchange credits the returns through the exchange's
    own ingest, which reads them once (it read them twice: before the
    ingest and inside it), and returns the credit note made."""
    from unittest import mock

    sale, txn = _sold(sq, square_connection)
    refund = exchange_a_jollof(sq, sale, 100000, emit=False)["refund"]
    with services.client_for(square_connection) as client, mock.patch.object(
            services, "order_returns_credit", wraps=services.order_returns_credit) as credits:
        credit = services.refund_ingest(connection=square_connection, refund=client.get_refund(refund["id"]),
                                        client=client)
    assert credits.call_count == 1
    assert (credit.source_type, credit.original_invoice_id) == ("return", txn.invoice_id)


def test_an_exchange_whose_sale_has_no_irn_yet_is_credited_on_the_events_retry(sq, square_connection):
    sale, txn = _sold(sq, square_connection)
    Invoice.objects.filter(pk=txn.invoice_id).update(irn="", number="")
    order = exchange_a_jollof(sq, sale, 400000, emit=False)["order"]  # dearer: the buyer pays the difference
    assert order["tenders"][0]["amount_money"]["amount"] == 430000 - 268750
    event = _order_updated(square_connection, order, "w1")
    with pytest.raises(services.InvoiceNotReady):  # the task retries it
        services.webhook_event_process(event=event)
    new = Transaction.objects.get(external_id=order["id"]).invoice
    assert new.payable_amount == Decimal("4300.00") and new.submissions.get().lease_token is None  # queued, not held
    assert not _credits()
    _irn(txn)
    assert services.webhook_event_process(event=event) == WebhookEvent.Status.PROCESSED  # invoiced: not skipped
    assert [c[:3] for c in _credits()] == [("return", f"{order['id']}:{sale['order']['id']}", txn.invoice_id)]


def test_reconciliation_credits_an_exchange_whose_events_were_lost_and_not_its_refund(sq, square_connection):
    from django.utils import timezone

    sale, txn = _sold(sq, square_connection)
    order = exchange_a_jollof(sq, sale, 100000, emit=False)["order"]
    day = timezone.localdate()
    assert services.reconcile_day(connection=square_connection, day=day) == {
        "completed": 2, "invoiced_now": 1, "credited_now": 1}
    assert services.reconcile_day(connection=square_connection, day=day) == {
        "completed": 2, "invoiced_now": 0, "credited_now": 0}
    assert [c[:3] for c in _credits()] == [("return", f"{order['id']}:{sale['order']['id']}", txn.invoice_id)]
    assert Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE).submissions.get().queue == "batch"


def test_a_return_no_refund_pays_back_is_credited_from_its_order(sq, square_connection):
    """Items taken back with nothing paid back (no refund listed on the
    return order): the order's event credits them; a refund of it, should
    one still come, credits nothing more."""
    sale, txn = _sold(sq, square_connection)
    refund = sq.refund_payment(payment_id=sale["payment"]["id"],
                               line_items=[{"source_line_item_uid": "jollof", "quantity": "1"}])
    sq.orders[refund["order_id"]]["refunds"] = []  # as Square shows a return with no refund
    with services.client_for(square_connection) as client:
        return_order = client.get_order(refund["order_id"])
        assert services.webhook_event_process(event=_order_updated(square_connection, return_order, "n1")) == \
            WebhookEvent.Status.PROCESSED
        assert services.refund_ingest(connection=square_connection, refund=client.get_refund(refund["id"]),
                                      client=client) is None
    assert _credits() == [("return", f"{return_order['id']}:{sale['order']['id']}", txn.invoice_id,
                           Decimal("2687.50"), Decimal("187.50"))]
    assert not Transaction.objects.filter(external_id=return_order["id"]).exists()


def _returned_from_two_sales(sq, conn, **kw):
    """Two invoiced sales with IRNs, a (three jollof, ₦2,500 + 7.5 % VAT
    each) and b (two zobo, ₦1,000 + 7.5 % VAT each), and one return at the
    till of one jollof of a and both zobo of b: one return order, a refund
    of each sale's payment. (a, b, the sandbox's create_return answer)."""
    a, txn_a = _sold(sq, conn)
    zobo = {"line_items": [{"uid": "zobo", "name": "Zobo", "quantity": "2", "base_price_money": m(100000),
                            "applied_taxes": [{"tax_uid": "vat"}]}],
            "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "LINE_ITEM"}]}
    b = sq.create_sale(order=zobo, emit=False, location_id=a["order"]["location_id"])
    with services.client_for(conn) as client:
        txn_b = services.order_ingest(connection=conn, order=client.get_order(b["order"]["id"]))
    _irn(txn_b, 2)
    returned = sq.create_return(returns=[
        {"order_id": a["order"]["id"], "line_items": [{"source_line_item_uid": "jollof", "quantity": "1"}]},
        {"order_id": b["order"]["id"], "line_items": [{"source_line_item_uid": "zobo", "quantity": "2"}]}], **kw)
    return (a, txn_a), (b, txn_b), returned


def _credited_lines(credit):
    return [(line.description, line.quantity) for line in credit.lines.all()]


@pytest.mark.parametrize("first", ["a", "b"])
def test_a_return_from_two_sales_credits_each_sale_from_its_own_refund_once(sq, square_connection, first):
    """A buyer brings back items of two receipts at once: Square makes one
    return order (one OrderReturn per sale) and refunds each sale's payment
    by a refund of its own. Each refund's events, in either order and each
    repeated, make one credit note of its own sale's returned items, on that
    sale's invoice; the return order's event makes nothing; each sale shows
    what was refunded of it."""
    (a, txn_a), (b, txn_b), returned = _returned_from_two_sales(sq, square_connection)
    order = returned["order"]
    assert [r["source_order_id"] for r in order["returns"]] == [a["order"]["id"], b["order"]["id"]]
    refunds = {r["payment_id"]: r for r in returned["refunds"]}
    refund_a, refund_b = refunds[a["payment"]["id"]], refunds[b["payment"]["id"]]
    assert refund_a["order_id"] == refund_b["order_id"] == order["id"]
    second = "b" if first == "a" else "a"
    by_name = {"a": refund_a, "b": refund_b}
    for n, name in enumerate((first, second, first, second)):
        event = _refund_updated(square_connection, by_name[name], f"r{n}")
        assert services.webhook_event_process(event=event) == WebhookEvent.Status.PROCESSED
    assert services.webhook_event_process(event=_order_updated(square_connection, order, "ret")) == \
        WebhookEvent.Status.IGNORED

    assert sorted(_credits()) == sorted([
        ("refund", refund_a["id"], txn_a.invoice_id, Decimal("2687.50"), Decimal("187.50")),
        ("refund", refund_b["id"], txn_b.invoice_id, Decimal("2150.00"), Decimal("150.00"))])
    credit_a, credit_b = (Invoice.objects.get(source_id=r["id"]) for r in (refund_a, refund_b))
    assert _credited_lines(credit_a) == [("Jollof rice", Decimal("1"))]
    assert _credited_lines(credit_b) == [("Zobo", Decimal("2"))]
    assert not credit_a.tax_mismatch and not credit_b.tax_mismatch
    assert Transaction.objects.get(pk=txn_a.pk).status == Transaction.Status.PARTLY_REFUNDED
    assert Transaction.objects.get(pk=txn_b.pk).status == Transaction.Status.REFUNDED


def test_reconciliation_credits_a_return_from_two_sales_once_on_each_sale(sq, square_connection):
    """The same return with no webhook at all: the end of day credits each
    refund's own sale's items, once, on that sale's invoice."""
    from django.utils import timezone

    (a, txn_a), (b, txn_b), returned = _returned_from_two_sales(sq, square_connection)
    day = timezone.localdate()
    assert services.reconcile_day(connection=square_connection, day=day)["credited_now"] == 2
    assert services.reconcile_day(connection=square_connection, day=day)["credited_now"] == 0
    refunds = {r["payment_id"]: r["id"] for r in returned["refunds"]}
    assert sorted(_credits()) == sorted([
        ("refund", refunds[a["payment"]["id"]], txn_a.invoice_id, Decimal("2687.50"), Decimal("187.50")),
        ("refund", refunds[b["payment"]["id"]], txn_b.invoice_id, Decimal("2150.00"), Decimal("150.00"))])
    assert set(Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).values_list("submissions__queue",
                                                                               flat=True)) == {"batch"}

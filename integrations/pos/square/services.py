"""Square writes: locations and sales mirrored as `pos.Location` /
`pos.Transaction`, completed sales turned into invoices and refunds into
credit notes, and the processing of one stored webhook event.

- `order_ingest(connection=, order=)`: THE path every Square sale takes
  (webhook, delta sync, end-of-day reconciliation, batch re-processing):
  upsert the Transaction from `mapping.order_figures`, and when the sale is
  COMPLETED at an active location, `invoice_create_from_canonical(...,
  queue="pos_realtime")` (idempotent on the order id: a sale seen twice, by a
  webhook and a sync, is one invoice).
- `refund_ingest(connection=, refund=)`: a COMPLETED refund → its return
  order → the returns of the sale the refund pays back (a return order
  may take items back from several sales, each refunded on its own:
  `mapping.refunded_sale`) → `mapping.return_to_canonical` → a credit note
  referencing that sale's invoice (number, IRN, issue date). Square's return order is
  used rather than `credit_note_create`'s line copy because a Square refund
  may be an amount, not lines, and its return order carries Square's own
  figures (checked against ours like a sale's).
- `order_returns_credit(connection=, order=)`: the items an exchange (or a
  return with no refund) takes back → one credit note per original sale,
  whose source is the order (`mapping.credits_own_returns`), refund or not.
  `order_ingest` makes it after the order's own invoice, and a refund of
  such an order makes nothing else, so whichever of the order's, its
  payment's or its refund's events comes first, a retry, or the end of day,
  the returned items are credited once (the invoice source's uniqueness).
- B2C by default; B2B when the connection's field map names an order metadata
  key holding the buyer's TIN (`{"customer.tin": "metadata.<key>"}`, set on
  the connection page; `customer.name` likewise). Reading: the Orders API
  carries `metadata`; Square customer custom attributes need the Customers
  API, which TaxPoynt does not request.
- The connection's tax rule is the category of what Square charges no tax
  on (`mapping_options`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import operator
import threading
import uuid

import httpx
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.connections.http import exchanges_written_together, recording_client
from integrations.connections.models import Connection, WebhookEvent
from integrations.connections.oauth import connection_get_access_token
from integrations.connections.services import (source_record_upsert, source_records_link_invoices,
                                               source_records_note_not_invoiced, source_records_upsert)
from integrations.pos.models import Location, Transaction
from invoicing.models import Invoice
from taxpoynt.errors import ApplicationError
from taxpoynt.ops import metrics

from . import constants
from .client import SquareClient
from .mapping import (RETURN_SOURCE_TYPE, SYSTEM, MappingOptions, SquareMappingError, credits_own_returns,
                      is_return_order, order_figures, order_to_canonical, refunded_sale, return_source_id,
                      return_to_canonical, returned_sales, returns_only_gift_cards, sells_only_gift_cards)
from .provider import SquareProvider
from .webhooks import parse_event

logger = logging.getLogger(__name__)

VENDOR = SquareProvider.key
QUEUE = "pos_realtime"
BATCH_QUEUE = "batch"

_STATUS = {"COMPLETED": Transaction.Status.COMPLETED, "CANCELED": Transaction.Status.CANCELED,
           "OPEN": Transaction.Status.OPEN, "DRAFT": Transaction.Status.OPEN}

# One pooled, recording httpx client per worker thread (keep-alive to Square).
_local = threading.local()


def _pool() -> httpx.Client:
    http = getattr(_local, "http", None)
    if http is None:
        http = _local.http = recording_client(vendor=VENDOR, timeout=10.0,
                                              limits=httpx.Limits(max_keepalive_connections=8))
    return http


def client_for(connection: Connection) -> SquareClient:
    return SquareClient(base_url=SquareProvider.api_base_url(), http=_pool(), connection=connection,
                        access_token=connection_get_access_token(connection=connection))


class InvoiceNotReady(Exception):
    """A refund's original invoice has no IRN yet: retry the event later."""


class SaleNotMapped(ApplicationError):
    """A completed sale whose Square order cannot be mapped to an invoice;
    its Transaction keeps the reason (`invoice_error`)."""


# --- locations -------------------------------------------------------------------------
def location_upsert(*, connection: Connection, location: dict) -> Location:
    row, _ = Location.objects.update_or_create(
        connection=connection, external_id=location["id"],
        defaults={"organization_id": connection.organization_id, "name": location.get("name", "")[:300],
                  "address": location.get("address") or {}, "timezone": location.get("timezone", "")[:64],
                  "currency": location.get("currency") or "NGN", "raw": location},
        create_defaults={"organization_id": connection.organization_id, "name": location.get("name", "")[:300],
                         "address": location.get("address") or {}, "timezone": location.get("timezone", "")[:64],
                         "currency": location.get("currency") or "NGN", "raw": location,
                         # Closed/inactive Square locations are not selected by default.
                         "active": location.get("status", "ACTIVE") == "ACTIVE"})
    return row


def locations_refresh(*, connection: Connection, client: SquareClient | None = None) -> list[Location]:
    """Read the merchant's locations and mirror them (the selection, `active`,
    is kept for known ones)."""
    own = client is None
    client = client or client_for(connection)
    try:
        return [location_upsert(connection=connection, location=loc) for loc in client.list_locations()]
    finally:
        if own:
            client.close()


def _location(connection: Connection, location_id: str, client: SquareClient | None) -> Location | None:
    if not location_id:
        return None
    row = Location.objects.filter(connection=connection, external_id=location_id).first()
    if row is None and client is not None:
        row = location_upsert(connection=connection, location=client.get_location(location_id))
    return row


# --- sales ---------------------------------------------------------------------------------
def _transaction_values(*, connection: Connection, order: dict, location: Location | None) -> tuple[str, dict]:
    """(order id, Transaction values) of one Square order."""
    figures = order_figures(order)
    status = _STATUS.get(figures.state, Transaction.Status.OPEN)
    if figures.refunded and status == Transaction.Status.COMPLETED:
        status = Transaction.Status.REFUNDED if figures.wholly_refunded else Transaction.Status.PARTLY_REFUNDED
    return figures.order_id, {
        "organization_id": connection.organization_id, "location": location, "status": status,
        "occurred_at": figures.occurred_at or timezone.now(), "currency": figures.currency,
        "total_amount": figures.total_amount, "tax_amount": figures.tax_amount,
        "tip_amount": figures.tip_amount, "raw": order, "source_updated_at": _time(order.get("updated_at"))}


def transaction_upsert(*, connection: Connection, order: dict, location: Location | None = None) -> Transaction:
    order_id, values = _transaction_values(connection=connection, order=order, location=location)
    return source_record_upsert(Transaction, connection=connection, external_id=order_id, values=values)


def _time(value: str | None):
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _metadata(order: dict) -> dict:
    return order.get("metadata") or {}


def mapping_options(connection: Connection) -> MappingOptions:
    """The mapper's options from the connection's tax rule: the category
    (rate, reason) of the items and charges Square charges no tax on."""
    from integrations.connections.rules import trigger_rule_for
    from invoicing.canonical import EXEMPTED, ZERO_VAT

    rule = trigger_rule_for(connection, defaults=SquareProvider.default_trigger_rule())
    options = MappingOptions(untaxed_category=rule.tax_category, untaxed_rate=rule.tax_rate, tips=rule.tips,
                             levies=rule.levies)
    if rule.exemption_reason and rule.tax_category == ZERO_VAT:
        options.zero_rated_reason = rule.exemption_reason
    elif rule.exemption_reason and rule.tax_category == EXEMPTED:
        options.exempt_reason = rule.exemption_reason
    return options


def _sale_canonical(*, connection: Connection, txn: Transaction):
    """The canonical invoice of a completed sale at a selected location, or
    None when the sale is not invoiceable (not completed, its location not
    selected, or gift cards only: no supply until a card is redeemed).
    ApplicationError when Square's order cannot be mapped."""
    order = txn.raw or {}
    if order.get("state") != "COMPLETED" or (txn.location is not None and not txn.location.active):
        return None
    if sells_only_gift_cards(order):
        return None
    try:
        return order_to_canonical(order, field_map=connection.field_map or {}, customer_attributes=_metadata(order),
                                  options=mapping_options(connection))
    except SquareMappingError as exc:
        metrics.pos_transaction_total.labels(vendor=VENDOR, outcome="unmappable").inc()
        raise SaleNotMapped(f"Square order {txn.external_id} cannot be invoiced: {exc.message}",
                            code="unmappable", extra=exc.extra) from exc
    except Exception as exc:  # an order shape the mapper does not expect: the sale stays, with why
        logger.exception("square order could not be mapped", extra={"order": txn.external_id})
        metrics.pos_transaction_total.labels(vendor=VENDOR, outcome="unmappable").inc()
        raise SaleNotMapped(f"Square order {txn.external_id} cannot be invoiced: the order could not be read "
                            f"({type(exc).__name__}: {exc})", code="unmappable") from exc


def transactions_note_not_invoiced(*, reasons: dict) -> None:
    """Keep on each sale ({Transaction: reason}) why it was not invoiced: one
    statement for all of them; nothing when there are none."""
    source_records_note_not_invoiced(Transaction, reasons=[(txn.pk, reason) for txn, reason in reasons.items()])
    for txn, reason in reasons.items():
        txn.invoice_error = reason


def _invoiced_outcome(invoice: Invoice) -> str:
    return "mismatch" if invoice.tax_mismatch else "invoiced"


def invoice_for_transaction(*, connection: Connection, txn: Transaction, queue: str = QUEUE,
                            lease_token=None, received_at=None) -> Invoice | None:
    """The invoice of a completed sale (made once; None when the sale is not
    invoiceable: not completed, or its location is not selected). With
    `lease_token` a new invoice's submission is leased to the caller, who runs
    it after commit (see `invoice_create_from_canonical`); `received_at`, the
    sale's webhook receipt, times its confirmation."""
    if txn.invoice_id:
        return txn.invoice
    canonical = _sale_canonical(connection=connection, txn=txn)
    if canonical is None:
        return None
    from invoicing.services import invoice_create_from_canonical

    invoice = invoice_create_from_canonical(organization=connection.organization, canonical=canonical,
                                            connection=connection, queue=queue, lease_token=lease_token,
                                            source_received_at=received_at)
    Transaction.objects.filter(pk=txn.pk, invoice__isnull=True).update(invoice=invoice, invoice_error="",
                                                                       updated_at=timezone.now())
    txn.invoice, txn.invoice_error = invoice, ""
    metrics.pos_transaction_total.labels(vendor=VENDOR, outcome=_invoiced_outcome(invoice)).inc()
    return invoice


def _invoice_batch(*, connection: Connection, txn: Transaction) -> Invoice | None:
    """A mirrored sale invoiced on `batch` (back-office work: the end of day,
    re-processing; never before live sales), in a transaction of its own; a
    sale that cannot be mapped keeps the reason on its row, and SaleNotMapped
    is raised."""
    try:
        with transaction.atomic():
            return invoice_for_transaction(connection=connection, txn=txn, queue=BATCH_QUEUE)
    except SaleNotMapped as exc:
        transactions_note_not_invoiced(reasons={txn: exc.message})
        raise


def order_ingest(*, connection: Connection, order: dict, client: SquareClient | None = None,
                 queue: str = QUEUE, lease_token=None, received_at=None) -> Transaction | None:
    """Mirror one Square order and invoice it when it is a completed sale.
    `queue` is where its FIRS submission runs: pos_realtime for live sales,
    batch for a historical import (so an import never delays a live sale);
    `received_at` is a live sale's webhook receipt (none for a sync). A
    return order is no sale: not mirrored, None. The items an exchange or a
    return with no refund takes back are credited after the sale's invoice
    is committed (`order_returns_credit`). A sale whose order cannot be
    mapped is kept with the reason (`invoice_error`), and then SaleNotMapped
    is raised (its event fails with it)."""
    return _order_ingest(connection=connection, order=order, client=client, queue=queue, lease_token=lease_token,
                         received_at=received_at)[0]


def _order_ingest(*, connection: Connection, order: dict, client: SquareClient | None, queue: str, lease_token=None,
                  received_at=None) -> tuple[Transaction | None, list[Invoice]]:
    """`order_ingest`, and the credit notes made now of what the order takes
    back (`refund_ingest` of an exchange returns them)."""
    if is_return_order(order):
        return None, order_returns_credit(connection=connection, order=order, client=client, queue=queue)
    location = _location(connection, order.get("location_id", ""), client)
    not_mapped = None
    with transaction.atomic():
        txn = transaction_upsert(connection=connection, order=order, location=location)
        try:
            invoice_for_transaction(connection=connection, txn=txn, queue=queue, lease_token=lease_token,
                                    received_at=received_at)
        except SaleNotMapped as exc:  # raised before any write: the row and its reason are committed
            transactions_note_not_invoiced(reasons={txn: exc.message})
            not_mapped = exc
    credits = order_returns_credit(connection=connection, order=order, client=client, queue=queue)
    if not_mapped is not None:
        raise not_mapped
    return txn, credits


def orders_ingest(*, connection: Connection, orders: list[dict], client: SquareClient | None = None,
                  queue: str = BATCH_QUEUE, lease_token=None, received_at: dict | None = None) -> dict:
    """A page of one connection's Square orders at once (end-of-day
    reconciliation, historical import): `sellers_orders_ingest` with one seller."""
    return sellers_orders_ingest(pages=[(connection, orders, client)], queue=queue, lease_token=lease_token,
                                 received_at=received_at)


def sellers_orders_ingest(*, pages: list[tuple[Connection, list[dict], SquareClient | None]],
                          queue: str = BATCH_QUEUE, lease_token=None, received_at: dict | None = None) -> dict:
    """Pages of Square orders at once, each (connection, orders, its client
    or None), the batch path (end-of-day reconciliation, historical import,
    a backlog of live sales of one seller or several): the same mirror and
    invoices as `order_ingest`, in a handful of statements for all of them
    (one read of the locations, one upsert of the Transactions,
    `invoices_create_from_canonicals`, one update of their links) instead of
    about nine an order, in one transaction. A sale that cannot be mapped is
    counted, logged (its message under "errors", by order id) and left
    un-invoiced with the reason on its row (one statement for all such
    sales, none when there are none); the rest goes on. Counts per outcome, and the new "invoices"
    in order; with `lease_token` their submissions are leased to the caller
    (see `invoices_create_from_canonicals`); `received_at` gives live sales'
    webhook receipts by order id.

    The Transaction rows stay locked until the transaction commits, so a
    webhook for one of them waits for it: live sales come here only as a
    small backlog batch (webhook_events_process), never a sync's page."""
    from invoicing.services import invoices_create_from_canonicals

    out = {"orders": sum(len(orders) for _, orders, _ in pages), "invoiced": 0, "already_invoiced": 0,
           "not_invoiceable": 0, "unmappable": 0, "returns": 0, "credited": 0, "errors": {}}
    taking_back = [(connection, o, client) for connection, orders, client in pages for o in orders
                   if credits_own_returns(o)]
    sales = [(connection, [o for o in orders if not is_return_order(o)], client) for connection, orders, client in pages]
    out["returns"] = out["orders"] - sum(len(orders) for _, orders, _ in sales)
    pages = sales  # a return order is no sale (its returns are credited below, or from its refund)
    locations = {(row.connection_id, row.external_id): row
                 for row in Location.objects.filter(connection__in=[connection for connection, _, _ in pages])}
    for connection, orders, client in pages:
        for location_id in {o.get("location_id") for o in orders}:
            if (connection.pk, location_id) not in locations:
                locations[(connection.pk, location_id)] = _location(connection, location_id, client)
    with transaction.atomic():
        txns = source_records_upsert(Transaction, rows=[
            (connection, *_transaction_values(connection=connection, order=o,
                                              location=locations.get((connection.pk, o.get("location_id")))))
            for connection, orders, _ in pages for o in orders])
        todo, not_mapped = [], {}
        for txn in dict.fromkeys(txns):  # an order listed twice is one sale
            if txn.invoice_id:
                out["already_invoiced"] += 1
                continue
            try:
                canonical = _sale_canonical(connection=txn.connection, txn=txn)
            except SaleNotMapped as exc:
                out["unmappable"] += 1
                out["errors"][txn.external_id] = exc.message
                not_mapped[txn] = exc.message
                logger.warning("square order not invoiced", extra={"order": txn.external_id, "error": exc.message})
                continue
            if canonical is None:
                out["not_invoiceable"] += 1
            else:
                todo.append((txn, canonical))
        invoices = invoices_create_from_canonicals(
            canonicals=[c for _, c in todo], owners=[(txn.connection.organization, txn.connection) for txn, _ in todo],
            queue=queue, lease_token=lease_token,
            source_received_at=[(received_at or {}).get(txn.external_id) for txn, _ in todo])
        for (txn, _), invoice in zip(todo, invoices):
            txn.invoice = invoice
            metrics.pos_transaction_total.labels(vendor=VENDOR, outcome=_invoiced_outcome(invoice)).inc()
        source_records_link_invoices(Transaction, links=[(txn.pk, txn.invoice_id) for txn, _ in todo],
                                     clear=("invoice_error",))
        transactions_note_not_invoiced(reasons=not_mapped)
        out["invoiced"] = len(todo)
    out["invoices"] = [txn.invoice for txn, _ in todo]
    for connection, order, client in taking_back:  # exchanges, returns with no refund: rare, one at a time
        try:
            out["credited"] += len(order_returns_credit(connection=connection, order=order, client=client,
                                                        queue=queue))
        except (ApplicationError, InvoiceNotReady) as exc:  # left for its events' retries or a later run
            logger.warning("square order's returns not credited", extra={"order": order.get("id"), "error": str(exc)})
    return out


# --- returns and refunds ---------------------------------------------------------------------
def _original_sale(*, connection: Connection, source_order_id: str, client: SquareClient | None,
                   sale: dict | None = None) -> Transaction:
    """The Transaction of a sale items are taken back from, mirrored and
    invoiced first when it is not yet: from `sale` (its order, if the
    caller read it) or read from Square."""
    original = Transaction.objects.filter(connection=connection, external_id=source_order_id).first()
    if original is None or original.invoice_id is None:
        with contextlib.ExitStack() as own:
            client = client or own.enter_context(client_for(connection))
            original = order_ingest(connection=connection, order=sale or client.get_order(source_order_id),
                                    client=client)
    return original


def _credit_note_create(*, connection: Connection, canonical, original: Transaction, note: str,
                        queue: str) -> Invoice:
    """`canonical` (a credit note) on the original sale's invoice, made once
    (its source), submitted on `queue`. InvoiceNotReady while that invoice
    has no IRN."""
    import dataclasses

    from invoicing.canonical import BillingReference
    from invoicing.services import invoice_create_from_canonical

    invoice = original.invoice
    if invoice is None:
        raise ApplicationError("The sale items were taken back from was never invoiced (location not selected?).",
                               code="not_invoiced")
    if not invoice.irn:
        raise InvoiceNotReady(f"invoice {invoice.pk} has no IRN yet")
    canonical = dataclasses.replace(
        canonical, note=canonical.note or note,
        billing_reference=BillingReference(number=invoice.number, irn=invoice.irn, issue_date=invoice.issue_date))
    credit = invoice_create_from_canonical(organization=connection.organization, canonical=canonical,
                                           connection=connection, queue=queue)
    metrics.pos_transaction_total.labels(vendor=VENDOR, outcome="credited").inc()
    return credit


def _return_credits(connection: Connection, order_ids) -> set[str]:
    """Those of `order_ids` whose returns already have a credit note made
    from the order itself (source type "return")."""
    prefixes = {order_id: return_source_id(order_id, "") for order_id in order_ids}
    if not prefixes:
        return set()
    made = list(Invoice.objects.filter(
        functools.reduce(operator.or_, (Q(source_id__startswith=p) for p in prefixes.values())),
        organization=connection.organization, source_system=SYSTEM, source_type=RETURN_SOURCE_TYPE,
    ).values_list("source_id", flat=True))
    return {order_id for order_id, prefix in prefixes.items() if any(s.startswith(prefix) for s in made)}


def _returns_credited(connection: Connection, order_id: str, source_order_id: str) -> bool:
    """Whether what order `order_id` takes back from sale `source_order_id`
    already has its credit note made from the order (source type "return")."""
    return Invoice.objects.filter(organization=connection.organization, source_system=SYSTEM,
                                  source_type=RETURN_SOURCE_TYPE,
                                  source_id=return_source_id(order_id, source_order_id)).exists()


def order_returns_credit(*, connection: Connection, order: dict, client: SquareClient | None = None,
                         queue: str = QUEUE) -> list[Invoice]:
    """The credit notes of the items a COMPLETED exchange, or a return with
    no refund, takes back (`mapping.credits_own_returns`): one per original
    sale (Square: one OrderReturn per sale), on that sale's invoice, its
    source the order and the sale (`mapping.return_source_id`), so it is
    made once whichever event brings the order, refund or not. The ones
    made now; none for any other order (a sale, a return paid back by
    refunds: `refund_ingest`), or for gift cards (never invoiced).
    InvoiceNotReady while an original invoice has no IRN (the event
    retries); ApplicationError when a return cannot be credited (unlinked,
    its sale never invoiced)."""
    if order.get("state") != "COMPLETED" or not credits_own_returns(order):
        return []
    try:
        sales = returned_sales(order)
    except SquareMappingError as exc:
        raise ApplicationError(f"Square order {order.get('id')}'s returns cannot be credited: {exc.message}",
                               code="unmappable", extra=exc.extra) from exc
    made = []
    for source_order_id in sales:
        if _returns_credited(connection, order["id"], source_order_id):
            continue  # credited before, by another of the order's events
        original = _original_sale(connection=connection, source_order_id=source_order_id, client=client)
        if original is None:
            raise ApplicationError(f"Square order {source_order_id}, which order {order['id']} takes items back "
                                   f"from, is no sale.", code="unmappable")
        if sells_only_gift_cards(original.raw or {}) or returns_only_gift_cards(order, source_order_id):
            continue  # a gift card is no supply until redeemed: never invoiced, nothing to credit
        try:
            canonical = return_to_canonical(order, source_order_id=source_order_id,
                                            field_map=connection.field_map or {},
                                            customer_attributes=_metadata(original.raw or {}),
                                            options=mapping_options(connection))
        except SquareMappingError as exc:
            raise ApplicationError(f"Square order {order['id']}'s returns cannot be credited: {exc.message}",
                                   code="unmappable", extra=exc.extra) from exc
        made.append(_credit_note_create(connection=connection, canonical=canonical, original=original,
                                        note="Exchange" if order.get("line_items") else "Return", queue=queue))
    return made


def _refunded_sale_id(*, refund: dict, return_order: dict, client: SquareClient) -> str:
    """The sale whose returns `refund` pays back (`mapping.refunded_sale`):
    the return order's only sale, or, when it takes items back from several,
    the order of the refunded payment (read from Square only then)."""
    try:
        payment_order_id = None
        if len(returned_sales(return_order)) > 1 and refund.get("payment_id"):
            payment_order_id = client.get_payment(refund["payment_id"]).get("order_id")
        return refunded_sale(return_order, payment_order_id)
    except SquareMappingError as exc:
        raise ApplicationError(f"Square refund {refund.get('id')} cannot be credited: {exc.message}",
                               code="unmappable", extra=exc.extra) from exc


def refund_ingest(*, connection: Connection, refund: dict, client: SquareClient, queue: str = QUEUE) -> Invoice | None:
    """A COMPLETED refund → a credit note on the invoice of the sale it pays
    back, of that sale's returns only (a return order taking items back from
    several sales has a refund for each: `_refunded_sale_id`), made once:
    the refund is its source; submitted on `queue`. A refund of an exchange
    (the difference given back) credits nothing of its own: the exchange's
    returned items are credited from the order, and its new items invoiced
    (`order_ingest`), here if its own events have not come yet; the credit
    note made now, if any. None for a refund not completed, or of gift cards
    only (never invoiced)."""
    if refund.get("status") != "COMPLETED":
        return None
    return_order = client.get_order(refund["order_id"])
    if credits_own_returns(return_order):  # an exchange: its order credits the returns and invoices the rest
        made = _order_ingest(connection=connection, order=return_order, client=client, queue=queue)[1]
        return made[0] if made else None
    source_order_id = _refunded_sale_id(refund=refund, return_order=return_order, client=client)
    sale = client.get_order(source_order_id)  # as it stands after the refund: its refunds, its net total
    original = _original_sale(connection=connection, source_order_id=source_order_id, client=client, sale=sale)
    if (sells_only_gift_cards(sale) or returns_only_gift_cards(return_order, source_order_id)
            or _returns_credited(connection, return_order["id"], source_order_id)):
        # A gift card is no supply until redeemed (mapping's docstring): nothing was invoiced, nothing to
        # credit. Nor is a return credited already from its order (before it listed this refund).
        transaction_upsert(connection=connection, order=sale, location=original.location)  # (partly) refunded
        return None
    canonical = return_to_canonical(return_order, refund=refund, source_order_id=source_order_id,
                                    field_map=connection.field_map or {},
                                    customer_attributes=_metadata(original.raw or {}),
                                    options=mapping_options(connection))
    with transaction.atomic():
        credit = _credit_note_create(connection=connection, canonical=canonical, original=original, note="Refund",
                                     queue=queue)
        transaction_upsert(connection=connection, order=sale, location=original.location)  # (partly) refunded
    return credit


# --- webhook events ---------------------------------------------------------------------------
def _submit_now(invoices: list[Invoice | None], lease_token) -> None:
    """Run new invoices' FIRS submissions in this task, now; several (a
    backlog's) in lockstep (`submissions_process_claimed`). Their
    submissions were created leased to us (`lease_token`) and never enqueued:
    under a burst pos_realtime is FIFO, and a submission queued behind
    thousands of webhook tasks would wait for all of them. Anything left
    unfinished (a FIRS retry, an outage, this worker dying) goes on through
    the due-submission sweep once the lease is released or expires. An
    invoice that already existed is not ours to run: its creator runs it."""
    held = [invoice.leased_submission for invoice in invoices
            if getattr(invoice, "leased_submission", None) is not None]
    if not held:
        return
    from invoicing.services import submissions_process_claimed

    try:
        submissions_process_claimed(token=lease_token, batch=held)
    except Exception:  # the sweep takes it from here
        logger.exception("inline FIRS submission failed; left to the sweep",
                         extra={"invoices": [str(sub.invoice_id) for sub in held]})


def _takes_live_events(connection: Connection | None) -> bool:
    """Whether a webhook for this connection is acted on: connected, and real
    time not turned off by the merchant (the sync picks the sales up then)."""
    return (connection is not None
            and connection.status not in (Connection.Status.DISCONNECTED, Connection.Status.PENDING)
            and (connection.settings or {}).get("realtime") is not False)


def _invoiced_sales(order_ids: dict) -> set[tuple]:
    """Those of the sales ({connection id: order ids}) that already have
    their invoice, as (connection id, order id), in one query. Not an
    exchange: its returns may still wait for their credit note (its
    original's IRN), so each of its events reads it again (a no-op once
    both are made)."""
    if not order_ids:
        return set()
    found = Transaction.objects.filter(
        connection_id__in=list(order_ids), external_id__in={i for ids in order_ids.values() for i in ids},
        invoice__isnull=False).values_list("connection_id", "external_id", "raw__returns")
    return {(connection_id, order_id) for connection_id, order_id, returns in found
            if order_id in order_ids[connection_id] and not returns}


def _invoiced_order_ids(connection: Connection, order_ids: list[str]) -> set[str]:
    """Those of `order_ids` whose sale already has its invoice."""
    return {order_id for _, order_id in _invoiced_sales({connection.pk: set(order_ids)})}


def _completed_sale(order: dict) -> bool:
    """A COMPLETED order with something to invoice or credit: a sale, an
    exchange, a return with no refund (a refund's return order is credited
    from the refund)."""
    return order.get("state") == "COMPLETED" and (not is_return_order(order) or credits_own_returns(order))


def _sale_completed(event) -> bool:
    if event.type == "order.updated":
        return event.state == "COMPLETED"
    if event.type == "payment.updated":
        return event.state == "COMPLETED" and bool(event.order_id)
    return False


def webhook_event_process(*, event: WebhookEvent) -> str:
    """The event's final status (processed / ignored); raises on failures the
    task retries. order.updated (state COMPLETED) and payment.updated (status
    COMPLETED) invoice the sale; refund.updated (COMPLETED) credits it."""
    connection = event.connection
    if not _takes_live_events(connection):
        return WebhookEvent.Status.IGNORED
    parsed = parse_event(bytes(event.raw_body))
    if _sale_completed(parsed):
        if _invoiced_order_ids(connection, [parsed.order_id]):
            # the twin event (payment.updated / order.updated) got here first
            return WebhookEvent.Status.PROCESSED
        with client_for(connection) as client:
            order = client.get_order(parsed.order_id)
            if not _completed_sale(order):
                return WebhookEvent.Status.IGNORED
            # An order that takes items back is credited after its invoice, and may then wait (InvoiceNotReady):
            # its invoice's submission is queued, not held by this task.
            lease_token = None if order.get("returns") else uuid.uuid4()
            txn = order_ingest(connection=connection, order=order, client=client, lease_token=lease_token,
                               received_at=event.received_at)
        if txn is not None:
            _submit_now([txn.invoice], lease_token)
        return WebhookEvent.Status.PROCESSED
    if parsed.type == "refund.updated" and parsed.state == "COMPLETED":
        with client_for(connection) as client:
            refund = client.get_refund(parsed.refund_id)
            refund_ingest(connection=connection, refund=refund, client=client)
        return WebhookEvent.Status.PROCESSED
    return WebhookEvent.Status.IGNORED


def webhook_events_process(*, events: list[WebhookEvent]) -> dict:
    """A backlog of order/payment events at once, of one seller or several
    (connections.tasks.webhook_event_run takes it when sales wait for the
    workers or come close together): one read of which sales are already
    invoiced, one Square BatchRetrieveOrders a seller (with its token), one
    `sellers_orders_ingest` for all of them with the new submissions leased
    to this run, then those submissions together, in lockstep. The same
    outcomes as `webhook_event_process` one at a time: {event id: (status,
    error)}; twin events of one sale share its outcome. A seller whose
    orders cannot be read (Square refusing its token, a 429, an outage) has
    its events given back (`received`: each then runs with a task of its
    own, under its retries) and the other sellers' sales go on."""
    processed, ignored, failed = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED,
                                  WebhookEvent.Status.FAILED)
    outcomes, sales, connections = {}, {}, {}  # sales: {connection id: {order id: [events]}}
    for event in sorted(events, key=lambda e: e.received_at):
        parsed = parse_event(bytes(event.raw_body))
        if _takes_live_events(event.connection) and _sale_completed(parsed):
            connections[event.connection_id] = event.connection
            sales.setdefault(event.connection_id, {}).setdefault(parsed.order_id, []).append(event)
        else:
            outcomes[event.pk] = (ignored, "")
    invoiced = _invoiced_sales({connection_id: set(its) for connection_id, its in sales.items()})
    found, pages, lease_token = {}, [], uuid.uuid4()
    result = {"errors": {}, "invoices": []}
    with exchanges_written_together(), contextlib.ExitStack() as clients:
        for connection_id, its in list(sales.items()):
            todo = [order_id for order_id in its if (connection_id, order_id) not in invoiced]
            if not todo:
                continue
            connection = connections[connection_id]
            try:
                client = clients.enter_context(client_for(connection))
                orders = client.batch_retrieve_orders(todo)
            except Exception:  # noqa: BLE001 - this seller's events run alone, with their own retries
                logger.warning("a Square seller's orders could not be read for a backlog; its events are given back",
                               extra={"connection": str(connection_id)}, exc_info=True)
                outcomes.update({event.pk: (WebhookEvent.Status.RECEIVED, "")
                                 for its_events in sales.pop(connection_id).values() for event in its_events})
                continue
            found.update({o["id"]: o for o in orders})
            # An order that takes items back is credited too, and may wait for its original's IRN: each of
            # its events runs alone, under its retries (`webhook_event_process`).
            for order_id in [i for i in todo if _completed_sale(found.get(i, {})) and found[i].get("returns")]:
                outcomes.update({event.pk: (WebhookEvent.Status.RECEIVED, "") for event in its.pop(order_id)})
                todo.remove(order_id)
            pages.append((connection, [found[i] for i in todo if _completed_sale(found.get(i, {}))], client))
        if pages:
            result = sellers_orders_ingest(
                pages=pages, queue=QUEUE, lease_token=lease_token,
                received_at={order_id: its_events[0].received_at for its in sales.values()
                             for order_id, its_events in its.items()})
    for connection_id, its in sales.items():
        for order_id, its_events in its.items():
            if (connection_id, order_id) in invoiced:
                outcome = (processed, "")
            elif order_id not in found:
                outcome = (failed, f"Square has no order {order_id}")
            elif not _completed_sale(found[order_id]):
                outcome = (ignored, "")
            elif order_id in result["errors"]:
                outcome = (failed, f"Square order {order_id} cannot be invoiced: {result['errors'][order_id]}")
            else:
                outcome = (processed, "")
            outcomes.update({event.pk: outcome for event in its_events})
    _submit_now(result["invoices"], lease_token)
    return outcomes


# --- reconciliation and re-processing ------------------------------------------------------------
# The end of day is reconciled in this many windows of the day (15 minutes),
# each its own task on `batch` (tasks.batch_reconcile_day), so every batch
# worker shares it, and small enough that no one window is left running
# alone at the end (bench/pos_eod.py: 24 hour-long windows left a tail).
RECONCILE_WINDOWS = 96


def reconcile_windows(*, day: dt.date, tz: str = "Africa/Lagos", windows: int = RECONCILE_WINDOWS) \
        -> list[tuple[dt.datetime, dt.datetime]]:
    """`day` (merchant time) cut into `windows` back-to-back [start, end) windows."""
    from zoneinfo import ZoneInfo

    start = dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(tz))
    step = dt.timedelta(days=1) / windows
    return [(start + i * step, start + (i + 1) * step) for i in range(windows)]


def reconcile_window(*, connection: Connection, start: dt.datetime, end: dt.datetime) -> dict:
    """End of day, one window of it: every COMPLETED Square sale closed in
    [start, end) that has no invoice gets one, and every COMPLETED refund
    made in it that has no credit note gets one. Reads Square (not only our
    mirror) so a sale or refund whose webhooks were all lost is found too; a
    page of sales at a time (`orders_ingest`); the FIRS submissions on
    `batch`, never in front of the live sales on pos_realtime."""
    locations = list(Location.objects.filter(connection=connection, active=True).values_list("external_id", flat=True))
    found = made = credited = 0
    query = {"filter": {"state_filter": {"states": ["COMPLETED"]},
                        "date_time_filter": {"closed_at": {"start_at": start.isoformat(), "end_at": end.isoformat()}}},
             "sort": {"sort_field": "CLOSED_AT", "sort_order": "ASC"}}
    with client_for(connection) as client:
        for i in range(0, len(locations), constants.SEARCH_MAX_LOCATIONS):
            for page in client.iter_order_pages(location_ids=locations[i:i + constants.SEARCH_MAX_LOCATIONS],
                                                query=query, limit=constants.SEARCH_DEFAULT_LIMIT):
                found += len(page.orders)
                ids = [o["id"] for o in page.orders]
                invoiced = _invoiced_order_ids(connection, ids)
                # An order that takes items back is read again: its credit may be the part missing.
                done = orders_ingest(connection=connection, client=client, queue=BATCH_QUEUE,
                                     orders=[o for o in page.orders if o["id"] not in invoiced or o.get("returns")])
                made += done["invoiced"]
                credited += done["credited"]
        credited += _reconcile_refunds(connection=connection, client=client, locations=set(locations),
                                       start=start, end=end)
    # Our own mirror too: completed rows whose invoice was never made (e.g. a mapping fixed since).
    for txn in Transaction.objects.filter(connection=connection, status=Transaction.Status.COMPLETED,
                                          invoice__isnull=True, occurred_at__gte=start, occurred_at__lt=end):
        try:
            made += bool(_invoice_batch(connection=connection, txn=txn))
        except ApplicationError as exc:
            logger.warning("reconciliation could not invoice a sale", extra={"transaction": str(txn.pk),
                                                                             "error": str(exc)})
    logger.info("square reconciliation", extra={"connection": str(connection.pk), "start": start.isoformat(),
                                                "end": end.isoformat(), "completed": found, "invoiced_now": made,
                                                "credited_now": credited})
    return {"completed": found, "invoiced_now": made, "credited_now": credited}


def _reconcile_refunds(*, connection: Connection, client: SquareClient, locations: set[str], start: dt.datetime,
                       end: dt.datetime) -> int:
    """Credit notes for the refunds COMPLETED in the window (ListPaymentRefunds
    by last update: a refund created PENDING in one window may complete in
    a later one) at the selected locations that have none; how many made. A
    refund whose sale has no IRN yet, or cannot be credited, is logged and
    left for its webhook's retries or a later run."""
    made = 0
    refunds = [r for r in client.iter_refunds_updated(begin_time=start.isoformat(), end_time=end.isoformat(),
                                                      status="COMPLETED") if r.get("location_id") in locations]
    credited = set(Invoice.objects.filter(organization=connection.organization, kind=Invoice.Kind.CREDIT_NOTE,
                                          source_system=SYSTEM, source_id__in=[r["id"] for r in refunds])
                   .values_list("source_id", flat=True))
    # An exchange's refund (the difference given back): its returns are credited from the order.
    from_orders = _return_credits(connection, {r.get("order_id") for r in refunds if r["id"] not in credited} - {None})
    for refund in refunds:
        if refund["id"] in credited or refund.get("order_id") in from_orders:
            continue
        try:
            made += bool(refund_ingest(connection=connection, refund=refund, client=client, queue=BATCH_QUEUE))
        except (ApplicationError, InvoiceNotReady) as exc:
            logger.warning("reconciliation could not credit a refund", extra={"refund": refund["id"],
                                                                               "error": str(exc)})
    return made


def reconcile_day(*, connection: Connection, day: dt.date, tz: str = "Africa/Lagos") -> dict:
    """The whole of `day` reconciled here, window after window (the task
    sends the windows to the batch workers instead)."""
    totals = {"completed": 0, "invoiced_now": 0, "credited_now": 0}
    for start, end in reconcile_windows(day=day, tz=tz, windows=1):
        for name, value in reconcile_window(connection=connection, start=start, end=end).items():
            totals[name] += value
    return totals


def transactions_batch_process(*, transactions) -> dict:
    """Invoice the given (already tenant-scoped) transactions that are
    completed sales without an invoice; returns per-outcome counts."""
    out = {"invoiced": 0, "already_invoiced": 0, "not_invoiceable": 0, "failed": 0, "errors": []}
    for txn in transactions:
        if txn.invoice_id:
            out["already_invoiced"] += 1
            continue
        try:
            invoice = _invoice_batch(connection=txn.connection, txn=txn)
        except ApplicationError as exc:
            out["failed"] += 1
            out["errors"].append({"transaction": str(txn.pk), "message": exc.message})
            continue
        out["invoiced" if invoice else "not_invoiceable"] += 1
    return out

"""Writes on CRM rows, shared by every CRM vendor.

`deal_ingest` is the ONE upsert both the webhook path and the delta sync call.
It is keyed on (connection, external id) and ordered by the source's
updated_at: an older or identical version is ignored, so arrival order and
duplicates do not matter. Under the deal's row lock it then applies the
connection's trigger rule:

- won (and no invoice yet) → `invoicing.services.invoice_create_from_canonical`
  (itself idempotent on the deal's source ref): exactly one invoice per deal,
  ever — leaving and re-entering a won stage finds the invoice already there;
- lost after an invoice → one credit note (`credit_note_create`).
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import uuid
from decimal import Decimal

from django.db import connection as db_connection, transaction
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.connections.registry import get_provider
from integrations.connections.rules import trigger_rule_for
from invoicing.canonical import SourceRef
from taxpoynt.errors import ApplicationError

from .models import Customer, Deal

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class CustomerRecord:
    external_id: str
    name: str = ""
    tin: str = ""
    email: str = ""
    telephone: str = ""
    address: dict = dataclasses.field(default_factory=dict)
    source_updated_at: datetime.datetime | None = None
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class DealRecord:
    """A vendor deal, normalised by the vendor's mapper. `raw` is everything
    the mapper needs to build the canonical invoice later (deal, line items,
    company, contact), stored on Deal.raw."""

    external_id: str
    source_updated_at: datetime.datetime
    name: str = ""
    pipeline: str = ""
    stage: str = ""
    amount: Decimal | None = None
    currency: str = ""
    close_date: datetime.date | None = None
    deleted: bool = False
    customer: CustomerRecord | None = None
    raw: dict = dataclasses.field(default_factory=dict)


def _lock_or_create(model, *, connection: Connection, external_id: str):
    """The row for (connection, external_id), created if missing, locked FOR
    UPDATE. INSERT … ON CONFLICT DO NOTHING first, so two racing writers
    never both create it."""
    table = model._meta.db_table
    with db_connection.cursor() as cursor:
        extra_cols, extra_vals = ("", "")
        if model is Deal:
            extra_cols, extra_vals = (", name, pipeline, stage, status, invoice_error", ", '', '', '', 'open', ''")
        else:
            extra_cols, extra_vals = (", name, tin, email, telephone, address", ", '', '', '', '', '{}'::jsonb")
        cursor.execute(
            f"INSERT INTO {table} (id, organization_id, connection_id, external_id, raw, currency, created_at, "
            f"updated_at{extra_cols}) VALUES (%s, %s, %s, %s, '{{}}'::jsonb, %s, now(), now(){extra_vals}) "
            f"ON CONFLICT (connection_id, external_id) DO NOTHING",
            [uuid.uuid4(), connection.organization_id, connection.pk, external_id,
             connection.organization.default_currency or "NGN"],
        )
    return model.objects.select_for_update().get(connection=connection, external_id=external_id)


def customer_upsert(*, connection: Connection, record: CustomerRecord) -> Customer:
    with transaction.atomic():
        customer = _lock_or_create(Customer, connection=connection, external_id=record.external_id)
        if (customer.source_updated_at and record.source_updated_at
                and record.source_updated_at < customer.source_updated_at):
            return customer
        customer.name = record.name[:300]
        customer.tin = record.tin[:20]
        customer.email = record.email[:254]
        customer.telephone = record.telephone[:30]
        customer.address = record.address
        customer.raw = record.raw
        customer.source_updated_at = record.source_updated_at or customer.source_updated_at
        customer.save()
        return customer


def _status_for(record: DealRecord, rule) -> str:
    if record.deleted:
        return Deal.Status.DELETED
    if rule.is_won(pipeline=record.pipeline, stage=record.stage):
        return Deal.Status.WON
    if rule.is_lost(pipeline=record.pipeline, stage=record.stage):
        return Deal.Status.LOST
    return Deal.Status.OPEN


def deal_ingest(*, connection: Connection, record: DealRecord) -> Deal:
    """Upsert one vendor deal and act on its stage (see module docstring)."""
    provider = get_provider(connection.vendor)
    rule = trigger_rule_for(connection, defaults=provider.default_trigger_rule())
    with transaction.atomic():
        customer = customer_upsert(connection=connection, record=record.customer) if record.customer else None
        deal = _lock_or_create(Deal, connection=connection, external_id=record.external_id)
        if record.source_updated_at is None:  # a vendor object without a modified time: newest we know
            record.source_updated_at = timezone.now()
        if deal.source_updated_at and record.source_updated_at <= deal.source_updated_at:
            return deal  # an older or the same version: already applied
        deal.source_updated_at = record.source_updated_at
        if record.deleted:
            deal.status = Deal.Status.DELETED
        else:
            deal.name = record.name[:300]
            deal.pipeline = record.pipeline[:200]
            deal.stage = record.stage[:200]
            deal.amount = record.amount
            deal.currency = (record.currency or connection.organization.default_currency or "NGN")[:3]
            deal.close_date = record.close_date
            deal.raw = record.raw
            deal.customer = customer or deal.customer
            deal.status = _status_for(record, rule)
        deal.save()
        _act_on_status(deal=deal, connection=connection)
        return deal


def _act_on_status(*, deal: Deal, connection: Connection) -> None:
    """Runs under the deal's row lock."""
    if deal.status == Deal.Status.WON and deal.invoice_id is None:
        _create_invoice(deal=deal, connection=connection)
    elif deal.status in (Deal.Status.LOST, Deal.Status.DELETED) and deal.invoice_id and not deal.credit_note_id:
        _create_credit_note(deal=deal, connection=connection)


def _create_invoice(*, deal: Deal, connection: Connection):
    from invoicing.services import invoice_create_from_canonical

    provider = get_provider(connection.vendor)
    try:
        with transaction.atomic():
            canonical = provider.deal_to_canonical(deal=deal, connection=connection)
            invoice = invoice_create_from_canonical(organization=connection.organization, canonical=canonical,
                                                    connection=connection, queue="crm")
    except ApplicationError as exc:
        deal.invoice_error = exc.message[:2000]
        deal.save(update_fields=["invoice_error", "updated_at"])
        logger.warning("deal won but no invoice", extra={"deal": str(deal.pk), "error": exc.message})
        return None
    deal.invoice = invoice
    deal.won_at = deal.won_at or timezone.now()
    deal.invoice_error = ""
    deal.save(update_fields=["invoice", "won_at", "invoice_error", "updated_at"])
    logger.info("deal invoiced", extra={"deal": str(deal.pk), "invoice": str(invoice.pk),
                                        "connection": str(connection.pk)})
    return invoice


def _create_credit_note(*, deal: Deal, connection: Connection):
    from invoicing.services import credit_note_create

    invoice = deal.invoice
    reason = "Deal deleted after it was invoiced." if deal.status == Deal.Status.DELETED else \
        f"Deal moved to {deal.stage or 'a lost stage'} after it was invoiced."
    try:
        with transaction.atomic():
            note = credit_note_create(invoice=invoice, reason=reason,
                                      source=SourceRef(system=connection.vendor, type="deal_lost",
                                                       id=deal.external_id))
    except ApplicationError as exc:
        # Typically: the invoice is not signed yet. `deal_reconcile` retries.
        deal.invoice_error = f"Credit note pending: {exc.message}"[:2000]
        deal.save(update_fields=["invoice_error", "updated_at"])
        return None
    deal.credit_note = note
    deal.lost_at = deal.lost_at or timezone.now()
    deal.invoice_error = ""
    deal.save(update_fields=["credit_note", "lost_at", "invoice_error", "updated_at"])
    return note


def deal_generate_invoice(*, deal: Deal, actor=None):
    """Manual trigger (API/dashboard): invoice a deal now, whatever its stage.
    Idempotent: a deal that already has an invoice returns it."""
    from taxpoynt.audit.models import AuditLog
    from taxpoynt.audit.services import audit_log_record

    with transaction.atomic():
        locked = Deal.objects.select_for_update().select_related("connection__organization").get(pk=deal.pk)
        if locked.invoice_id:
            return locked.invoice, False
        if locked.status == Deal.Status.DELETED:
            raise ApplicationError("The deal was deleted in the CRM.", code="deal_deleted")
        invoice = _create_invoice(deal=locked, connection=locked.connection)
        if invoice is None:
            raise ApplicationError(locked.invoice_error or "The invoice could not be created.",
                                   code="invoice_not_created")
        audit_log_record(actor=actor, source=AuditLog.Source.API, action="generate_invoice", instance=locked)
        return invoice, True


def deal_reconcile(*, deal: Deal) -> None:
    """Re-apply the trigger to a stored deal (e.g. a pending credit note)."""
    with transaction.atomic():
        locked = Deal.objects.select_for_update().select_related("connection__organization").get(pk=deal.pk)
        _act_on_status(deal=locked, connection=locked.connection)

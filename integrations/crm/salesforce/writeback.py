"""Write-back: once FIRS has confirmed an invoice made from an Opportunity,
PATCH its invoice number, IRN and status onto the Opportunity's custom fields
(DEFAULT_WRITEBACK_FIELDS, or Connection.settings["writeback_fields"]).

Nothing in invoicing knows about it and it never blocks the invoice: a beat
task (`tasks.writeback_due`, per connection) finds confirmed invoices of the
connection not yet written back. Tracking lives in
Connection.settings["writeback"] ({opportunity id: {invoice, state, attempts,
next_attempt_at, error, done_at}}) because the CRM models are not this
package's; a Deal-level field would be the better home (see the report).

Exactly once in effect: a recorded success is never PATCHed again; a PATCH
whose answer was lost (timeout) is simply repeated with the same values,
which is harmless. Two workers never PATCH the same opportunity at once (a
PostgreSQL advisory lock per opportunity). Failures are retried with backoff
(30 s doubling, capped at 1 h; REQUEST_LIMIT_EXCEEDED waits for the limit)
and counted on the connection ("needs attention" in dashboard and admin).
"""
from __future__ import annotations

import datetime
import logging
import zlib

from django.db import connection as db_connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.connections.http import RateLimited, VendorError
from integrations.connections.models import Connection
from integrations.connections.oauth import NeedsReauth

from .client import SalesforceError
from .provider import (DEFAULT_WRITEBACK_FIELDS, WRITEBACK_FIRST_DELAY_SECONDS, WRITEBACK_MAX_DELAY_SECONDS,
                       WRITEBACK_STATUS_CONFIRMED, SalesforceProvider)

logger = logging.getLogger(__name__)

DONE = "done"
PENDING = "pending"
ATTENTION_PREFIX = "Salesforce write-back needs attention"


def writeback_fields(connection) -> dict:
    return {**DEFAULT_WRITEBACK_FIELDS, **((connection.settings or {}).get("writeback_fields") or {})}


def writeback_values(*, connection, invoice) -> dict:
    fields = writeback_fields(connection)
    return {fields["invoice_number"]: invoice.number, fields["irn"]: invoice.irn,
            fields["status"]: WRITEBACK_STATUS_CONFIRMED}


def writeback_state(connection, opportunity_id: str) -> dict:
    return ((connection.settings or {}).get("writeback") or {}).get(opportunity_id) or {}


def confirmed_invoices(*, connection):
    """This connection's opportunity invoices FIRS has confirmed."""
    from invoicing.models import Invoice, Submission

    return (Invoice.objects.filter(connection=connection, kind=Invoice.Kind.INVOICE,
                                   source_system=SalesforceProvider.key, source_type="opportunity",
                                   submissions__state=Submission.State.CONFIRMED)
            .exclude(irn="").distinct().order_by("created_at"))


def _delay(attempts: int) -> float:
    return float(min(WRITEBACK_FIRST_DELAY_SECONDS * 2 ** max(attempts - 1, 0), WRITEBACK_MAX_DELAY_SECONDS))


def _record(*, connection, opportunity_id: str, entry: dict) -> None:
    """Store one opportunity's write-back entry and the attention summary,
    under the connection's row lock (serialised with the sync runner's save)."""
    with transaction.atomic():
        locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
        settings = dict(locked.settings or {})
        book = dict(settings.get("writeback") or {})
        book[opportunity_id] = entry
        failing = {k: v for k, v in book.items() if v.get("state") != DONE and v.get("attempts", 0) > 0}
        settings["writeback"] = book
        settings["writeback_attention"] = len(failing)
        locked.settings = settings
        fields = ["settings", "updated_at"]
        if failing:
            last = max(failing.values(), key=lambda v: v.get("last_attempt_at") or "")
            locked.last_error = (f"{ATTENTION_PREFIX}: {len(failing)} opportunit{'y' if len(failing) == 1 else 'ies'} "
                                 f"not updated yet (retrying). Last error: {last.get('error', '')}")[:1000]
            fields.append("last_error")
        elif locked.last_error.startswith(ATTENTION_PREFIX):
            locked.last_error = ""
            fields.append("last_error")
        locked.save(update_fields=fields)
        connection.settings = locked.settings
        connection.last_error = locked.last_error


class _OpportunityLock:
    def __init__(self, opportunity_id):
        self.key = zlib.crc32(f"sfwb:{opportunity_id}".encode()) - 2 ** 31
        self.held = False

    def __enter__(self):
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
            self.held = cursor.fetchone()[0]
        return self

    def __exit__(self, *exc):
        if self.held:
            with db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])


def opportunity_writeback(*, connection, invoice, now: datetime.datetime | None = None) -> str:
    """Write one confirmed invoice back to its Opportunity. Returns "done",
    "already" (recorded before), "not_due", "busy" or "failed". Never raises
    for a vendor failure: it is recorded and retried later."""
    from .session import OrgApi

    now = now or timezone.now()
    opportunity_id = invoice.source_id
    with _OpportunityLock(opportunity_id) as lock:
        if not lock.held:
            return "busy"
        connection.refresh_from_db(fields=["settings", "status", "credentials", "last_error"])
        entry = writeback_state(connection, opportunity_id)
        if entry.get("state") == DONE:
            return "already"
        due = parse_datetime(entry["next_attempt_at"]) if entry.get("next_attempt_at") else None
        if due and due > now:
            return "not_due"
        values = writeback_values(connection=connection, invoice=invoice)
        attempts = int(entry.get("attempts", 0)) + 1
        try:
            with OrgApi(connection) as api:
                api.update_opportunity(opportunity_id, values)
        except (VendorError, SalesforceError, NeedsReauth) as exc:
            delay = _delay(attempts)
            if isinstance(exc, RateLimited):
                delay = max(delay, exc.retry_after)
            _record(connection=connection, opportunity_id=opportunity_id, entry={
                "invoice": str(invoice.pk), "state": PENDING, "attempts": attempts,
                "last_attempt_at": now.isoformat(), "error": f"{type(exc).__name__}: {exc}"[:500],
                "next_attempt_at": (now + datetime.timedelta(seconds=delay)).isoformat()})
            logger.warning("salesforce write-back failed", extra={
                "connection": str(connection.pk), "opportunity": opportunity_id, "attempts": attempts,
                "error": str(exc)})
            return "failed"
        _record(connection=connection, opportunity_id=opportunity_id, entry={
            "invoice": str(invoice.pk), "state": DONE, "attempts": attempts, "done_at": timezone.now().isoformat(),
            "values": values})
        logger.info("salesforce write-back done", extra={"connection": str(connection.pk),
                                                         "opportunity": opportunity_id})
        return DONE


def connection_writeback_due(*, connection, now: datetime.datetime | None = None) -> dict[str, int]:
    """Write back every confirmed, not yet written-back invoice of `connection`."""
    outcomes: dict[str, int] = {}
    if connection.status in (Connection.Status.DISCONNECTED, Connection.Status.NEEDS_REAUTH):
        return outcomes
    book = (connection.settings or {}).get("writeback") or {}
    done = [k for k, v in book.items() if v.get("state") == DONE]
    for invoice in confirmed_invoices(connection=connection).exclude(source_id__in=done):
        outcome = opportunity_writeback(connection=connection, invoice=invoice, now=now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes

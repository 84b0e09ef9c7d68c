"""Writes on connections: schedule, configure, sync on demand, disconnect,
replay a webhook event. Vendor-neutral; vendor behaviour comes from the
provider registry."""
from __future__ import annotations

import datetime
import json
import logging
from typing import NamedTuple

from django.db import connection as db_connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from taxpoynt.audit.models import AuditLog
from taxpoynt.audit.services import audit_log_record, snapshot
from taxpoynt.db import (insert_parts, insert_values, mark_saved, rows_params, rows_sql, update_one_skip_locked,
                         update_rows)
from taxpoynt.errors import ApplicationError

from .models import Connection, WebhookEvent
from .oauth import connection_credentials
from .registry import WebhookRejected, get_provider
from .rules import field_map_validate, trigger_rule_validate
from .selectors import connection_for_account
from .sync import DELTA, HISTORICAL

logger = logging.getLogger(__name__)

SYNC_TASK = "integrations.connections.tasks.sync_connection"


def connection_schedule_sync(*, connection: Connection, every_seconds: int | None = None) -> PeriodicTask:
    """Create or re-enable this connection's beat entry (a django-celery-beat
    PeriodicTask, editable in admin) running the delta sync."""
    provider = get_provider(connection.vendor)
    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=every_seconds or provider.sync_interval_seconds, period=IntervalSchedule.SECONDS)
    task = connection.periodic_task
    if task is None:
        task, _ = PeriodicTask.objects.get_or_create(
            name=f"sync {connection.vendor} {connection.pk}",
            defaults={"task": SYNC_TASK, "interval": schedule,
                      "kwargs": json.dumps({"connection_id": str(connection.pk), "mode": DELTA})})
    task.enabled = True
    if every_seconds:
        task.interval = schedule
    task.save()
    if connection.periodic_task_id != task.pk:
        connection.periodic_task = task
        connection.save(update_fields=["periodic_task", "updated_at"])
    return task


def _enqueue_sync(connection_id, mode):
    from .tasks import sync_connection

    sync_connection.delay(connection_id=str(connection_id), mode=mode)


@transaction.atomic
def connection_request_sync(*, connection: Connection, mode: str = DELTA, actor=None, source=AuditLog.Source.SYSTEM):
    """Queue a sync now ("Sync now", admin re-sync, historical import)."""
    if mode not in (DELTA, HISTORICAL):
        raise ApplicationError("Unknown sync mode.", code="invalid")
    locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
    if locked.status in (Connection.Status.DISCONNECTED, Connection.Status.NEEDS_REAUTH, Connection.Status.PENDING):
        raise ApplicationError(f"Cannot sync a connection that is {locked.get_status_display().lower()}.",
                               code="connection_inactive")
    if mode == HISTORICAL:
        # A fresh import from the beginning: drop any delta checkpoint in flight.
        locked.sync_checkpoint = {}
        locked.import_started_at = timezone.now()
        locked.import_finished_at = None
        locked.sync_progress_done = 0
        locked.sync_progress_total = None
        locked.save()
    if actor is not None:
        audit_log_record(actor=actor, source=source, action=f"sync_{mode}", instance=locked)
    transaction.on_commit(lambda: _enqueue_sync(locked.pk, mode))
    return locked


def connection_discover_trigger_rule(*, connection: Connection) -> Connection:
    """After connecting: replace the provider's static default rule with one
    read from the vendor account (best effort; a merchant's own edits are
    never overwritten)."""
    provider = get_provider(connection.vendor)
    if connection.trigger_rule not in ({}, provider.default_trigger_rule()):
        return connection
    try:
        discovered = provider.discover_trigger_rule(connection=connection)
        if not discovered:
            return connection
        rule = trigger_rule_validate(discovered, defaults=provider.default_trigger_rule(),
                                     parts=provider.trigger_rule_parts)
    except Exception as exc:  # the static default still works; say why in the log
        logger.warning("trigger rule discovery failed", extra={"connection": str(connection.pk), "error": str(exc)})
        return connection
    Connection.objects.filter(pk=connection.pk).update(trigger_rule=rule, updated_at=timezone.now())
    connection.trigger_rule = rule
    return connection


def connection_config_validate(*, connection: Connection, trigger_rule: dict, field_map: dict) -> tuple[dict, dict]:
    """The trigger rule and field map as stored, checked against what the
    connection's provider has; ApplicationError with the errors per field
    ("trigger_rule.<part>", "field_map.<target>") otherwise. The settings
    page and support's admin form both check through here."""
    provider = get_provider(connection.vendor)
    errors = {}
    rule = fmap = None
    try:
        rule = trigger_rule_validate(trigger_rule, defaults=provider.default_trigger_rule(),
                                     parts=provider.trigger_rule_parts)
    except ApplicationError as exc:
        errors.update({f"trigger_rule.{k}": v for k, v in exc.extra.items()})
    try:
        fmap = field_map_validate(field_map, sources=provider.field_map_sources,
                                  targets=provider.field_map_targets)
    except ApplicationError as exc:
        errors.update({f"field_map.{k}": v for k, v in (exc.extra or {"": [exc.message]}).items()})
    if errors:
        raise ApplicationError("The settings are invalid.", extra=errors, code="invalid")
    return rule, fmap


@transaction.atomic
def connection_update_config(*, connection: Connection, trigger_rule: dict, field_map: dict, actor=None,
                             source=AuditLog.Source.DASHBOARD) -> Connection:
    """Validate and store the trigger rule and field map (errors per field)."""
    rule, fmap = connection_config_validate(connection=connection, trigger_rule=trigger_rule, field_map=field_map)
    locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
    before = snapshot(locked)
    locked.trigger_rule = rule
    locked.field_map = fmap
    locked.save(update_fields=["trigger_rule", "field_map", "updated_at"])
    audit_log_record(actor=actor, source=source, action="configure", instance=locked, before=before,
                     after=snapshot(locked))
    return locked


# A revocation the vendor did not confirm at disconnect is asked again after
# each of these delays (a minute, doubling up to an hour: about 7 hours in
# all; tasks.revoke_disconnected_account), then given up.
REVOKE_RETRY_DELAYS = tuple(min(3600, 60 * 2 ** n) for n in range(12))
REVOKE_RETRY_WINDOW = datetime.timedelta(seconds=sum(REVOKE_RETRY_DELAYS))


class RevokeUnconfirmed(Exception):
    """The vendor still did not confirm a revocation asked again: ask later."""


def _revoke_unconfirmed_message(provider, exc, *, retrying: bool) -> str:
    return (f"Disconnected here, but {provider.name} did not confirm that TaxPoynt's access was revoked ({exc}). "
            + (f"TaxPoynt keeps asking {provider.name} to revoke it for a few hours; you can also remove"
               if retrying else "Remove")
            + f" TaxPoynt from the apps connected to your {provider.name} account to be sure.")


def connection_disconnect(*, connection: Connection, actor=None, source=AuditLog.Source.DASHBOARD) -> Connection:
    """Revoke upstream, wipe the secrets, stop the schedule.
    When the vendor did not confirm the revocation, the connection is
    disconnected all the same and its `last_error` says so and what the
    merchant can do (it is empty when the vendor confirmed). Where the
    vendor can be asked again (`Provider.revoke_retry_credentials`), only
    what asking needs stays, encrypted, and `revoke_pending_until` is set:
    the task revoke_disconnected_account asks until then."""
    provider = get_provider(connection.vendor)
    credentials = connection_credentials(connection)
    revoke_error = ""
    kept = {}
    if credentials:
        try:
            provider.revoke(credentials=credentials, connection=connection)
        except Exception as exc:  # not confirmed: disconnected all the same, keeping only what asking again needs
            logger.warning("upstream revoke failed", extra={"connection": str(connection.pk), "error": str(exc)})
            kept = provider.revoke_retry_credentials(credentials=credentials, connection=connection)
            revoke_error = _revoke_unconfirmed_message(provider, exc, retrying=bool(kept))
    with transaction.atomic():
        locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
        before = snapshot(locked)
        locked.last_error = revoke_error
        locked.credentials = json.dumps(kept) if kept else ""
        locked.revoke_pending_until = timezone.now() + REVOKE_RETRY_WINDOW if kept else None
        locked.token_expires_at = None
        locked.status = Connection.Status.DISCONNECTED
        locked.disconnected_at = timezone.now()
        locked.sync_checkpoint = {}
        locked.save()
        if locked.periodic_task_id:
            PeriodicTask.objects.filter(pk=locked.periodic_task_id).update(enabled=False)
        if actor is not None:  # admin actions audit through AuditedModelAdmin.audit_action
            audit_log_record(actor=actor, source=source, action="disconnect", instance=locked, before=before,
                             after=snapshot(locked))
        if kept:
            from .tasks import revoke_disconnected_account

            transaction.on_commit(lambda: revoke_disconnected_account.delay(connection_id=str(locked.pk)))
    return locked


def connection_revoke_disconnected(*, connection_id, last_try: bool = False) -> None:
    """Ask the vendor again to revoke what the disconnect of `connection_id`
    kept (it did not confirm then). Confirmed, or answered that the token is
    already invalid, the kept token is erased and the warning cleared; not
    confirmed, RevokeUnconfirmed is raised (the task asks later) until the
    `last_try` or the end of the window (`revoke_pending_until`), when the
    token is erased all the same and the warning tells the merchant what to
    do. Nothing is asked once the connection was connected again, or its
    account is live in another connection meanwhile (revoking could cut it
    off): the kept token is erased. The row stays locked while the vendor is
    asked, so connecting it again waits for the answer."""
    unconfirmed = None
    with transaction.atomic():
        conn = Connection.objects.select_for_update(no_key=True).get(pk=connection_id)
        if conn.revoke_pending_until is None or conn.status != Connection.Status.DISCONNECTED:
            return  # confirmed, given up, or connected again (connection_authorize ended it)
        provider = get_provider(conn.vendor)
        if conn.external_account_id and connection_for_account(vendor=conn.vendor,
                                                               account_id=conn.external_account_id):
            revoke_pending_end_connected_again(conn)
            return
        try:
            provider.revoke(credentials=connection_credentials(conn), connection=conn)
        except Exception as exc:  # noqa: BLE001 - any failure upstream: not confirmed
            if last_try or timezone.now() >= conn.revoke_pending_until:
                hours = round(REVOKE_RETRY_WINDOW.total_seconds() / 3600)
                _revoke_pending_end(conn, last_error=(
                    f"Disconnected here, but {provider.name} did not confirm that TaxPoynt's access was revoked, "
                    f"and TaxPoynt stopped asking after {hours} hours ({exc}). Remove TaxPoynt from the apps "
                    f"connected to your {provider.name} account: until then it may still be authorized there."))
                logger.warning("upstream revoke still unconfirmed; given up", extra={"connection": str(conn.pk)})
                return
            unconfirmed = exc  # raised after the commit: the exchange with the vendor stays recorded
        else:
            _revoke_pending_end(conn, last_error="")
            logger.info("upstream revoke confirmed on a retry", extra={"connection": str(conn.pk)})
    if unconfirmed is not None:
        raise RevokeUnconfirmed(str(unconfirmed)) from unconfirmed


# How long past its window a pending revocation may stay before the sweep
# ends it: the retry task's own last try comes first.
REVOKE_SWEEP_GRACE = datetime.timedelta(minutes=15)


def connection_revocations_overdue_end() -> int:
    """Beat: end each pending revocation its window passed more than
    REVOKE_SWEEP_GRACE ago, whose retry task was lost (a broker or worker
    lost it): asked a last time, then its kept token is erased whatever the
    answer, so no token outlives the window. The number ended."""
    overdue = Connection.objects.filter(revoke_pending_until__lt=timezone.now() - REVOKE_SWEEP_GRACE)
    ended = 0
    for connection_id in overdue.values_list("pk", flat=True):
        connection_revoke_disconnected(connection_id=connection_id, last_try=True)
        ended += 1
    return ended


def _revoke_pending_end(conn: Connection, *, last_error: str) -> None:
    """Erase what a pending revocation kept and say how it ended (the row is locked)."""
    conn.credentials = ""
    conn.revoke_pending_until = None
    conn.last_error = last_error
    conn.save(update_fields=["credentials", "revoke_pending_until", "last_error", "updated_at"])


def revoke_pending_end_connected_again(conn: Connection) -> None:
    """End a pending revocation, never to be asked, because its account is
    connected again (asking could cut the new connection off); the row is
    locked."""
    _revoke_pending_end(conn, last_error=f"TaxPoynt stopped asking {get_provider(conn.vendor).name} to revoke its "
                                         f"earlier access: the account is connected to TaxPoynt again.")


@transaction.atomic
def webhook_event_replay(*, event: WebhookEvent, actor=None, source=AuditLog.Source.ADMIN) -> WebhookEvent:
    """Process a stored event again (support action). Processing is
    idempotent, so a replay can never make a second invoice.

    An event that routed to no connection (it came before the merchant
    connected; stored ignored) is routed again first. With still no live
    connection for its vendor account there is nothing to process: raises
    ApplicationError (code "unrouted") and leaves the event as it was."""
    from .webhooks import enqueue_webhook_event

    locked = WebhookEvent.objects.select_for_update().get(pk=event.pk)
    provider = get_provider(locked.vendor)
    before = snapshot(locked)
    if locked.connection_id is None:
        connection = _webhook_event_route(provider=provider, event=locked)
        locked.connection = connection
        locked.organization_id = connection.organization_id
    locked.status = WebhookEvent.Status.RECEIVED
    locked.error = ""
    locked.claimed_until = None
    locked.save(update_fields=["status", "error", "claimed_until", "connection", "organization"])
    if actor is not None:
        audit_log_record(actor=actor, source=source, action="replay", instance=locked, before=before,
                         after=snapshot(locked))
    transaction.on_commit(lambda: enqueue_webhook_event(provider=provider, event_id=locked.pk))
    return locked


def _webhook_event_route(*, provider, event: WebhookEvent) -> Connection:
    """The connection `event` routes to now, read again from its stored body
    (the account id is not kept apart from it); ApplicationError if none."""
    try:
        parsed = provider.parse_webhook(body=bytes(event.raw_body), headers=event.headers)
    except WebhookRejected:
        parsed = []
    account_id = next((p.account_id for p in parsed if p.event_id == event.event_id), None)
    connection = connection_for_account(vendor=event.vendor, account_id=account_id) if account_id else None
    if connection is None:
        raise ApplicationError(
            f"No live {provider.name} connection for account {account_id or '(unknown)'} yet: "
            f"the event was not replayed.", code="unrouted")
    return connection


# How long a task's claim on an event lasts: the sweep (every minute,
# migration 0006) hands over an event whose claim ran out (its worker died).
# A run still going past it (FIRS timing out on a batch's sales) only lets a
# second task find the sales invoiced and their submissions leased.
EVENT_CLAIM_SECONDS = 60
_DONE = [WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED]


def webhook_event_claim(*, event_id) -> WebhookEvent | None:
    """Take one stored event for processing (SKIP LOCKED: two workers never
    process the same event at once) under a claim lease (`claimed_until`).
    Returns None when it is done, or claimed by another task (taken with a
    backlog batch, or being processed). One statement marks it; one read
    brings it with its connection and org."""
    if not update_one_skip_locked(
            WebhookEvent, event_id,
            set_sql="status = %s, attempts = attempts + 1, claimed_until = now() + %s * interval '1 second'",
            set_params=[WebhookEvent.Status.PROCESSING, EVENT_CLAIM_SECONDS],
            where_sql="status <> ALL(%s) AND (claimed_until IS NULL OR claimed_until < now())",
            where_params=[_DONE]):
        return None
    return WebhookEvent.objects.select_related("connection", "connection__organization").get(pk=event_id)


class Backlog(NamedTuple):
    events: list[WebhookEvent]  # claimed, oldest first
    full: bool  # a whole batch was picked: more may be waiting


# How many batches' worth of waiting connections a backlog claim reads (its cost bound).
BACKLOG_FAIR_SCAN = 4


def webhook_events_claim_backlog(*, vendor: str, event_types, limit: int, connections=()) -> Backlog:
    """Up to `limit` fresh events of `vendor` (of `event_types`, never taken
    by any task yet), claimed under the same lease as `webhook_event_claim`.
    Each comes with its connection and organization (`connections`: those
    in hand already; the others are read in one query). Their own tasks, if
    they have any, find them claimed and skip them.

    Fair between connections (sellers): the batch is each waiting
    connection's oldest event, oldest first, then each one's second oldest,
    and so on, so one seller's flood never holds back another seller's sale
    by more than a batch. One statement picks them: a loose scan of the
    partial index `wh_vendor_conn_fresh`, one probe per waiting connection,
    and only their heads when a batch's worth of connections wait. The scan
    reads at most BACKLOG_FAIR_SCAN batches' worth of connections, in id
    order from the one holding the provider's oldest waiting event
    (`wh_vendor_fresh_oldest`), wrapping round: so the oldest waiting sale is
    always in the batch, and a claim costs the same with forty sellers
    waiting or fifty thousand (each waiting seller cost a probe a claim:
    39 ms a claim with 5 000 waiting, docs/performance.md).
    One statement claims them (SKIP LOCKED: a concurrent claim that picked
    the same ones takes the others); `full` says the pick was a whole batch,
    so the caller wakes another run for what may be left, however the claim
    split.

    Only fresh events: one that was taken before (given back by a failed
    batch, waiting for its own task's retry, replayed) runs with its own
    task, under that task's retries and backoff, so a seller whose Square
    refuses every call cannot fail the batches of the others again and again."""
    if limit <= 0:
        return Backlog([], False)
    table = WebhookEvent._meta.db_table
    # The status is written in, not a parameter: a generic plan can then use the partial indexes.
    fresh = f"vendor = %(vendor)s AND status = '{WebhookEvent.Status.RECEIVED}' AND attempts = 0 " \
            f"AND event_type = ANY(%(types)s) AND connection_id IS NOT NULL"
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE start AS ("
            f" SELECT connection_id FROM {table} WHERE {fresh} ORDER BY received_at LIMIT 1),"
            f" waiting (connection_id, n) AS ("
            f" SELECT connection_id, 1 FROM start"
            f" UNION ALL"
            # The next waiting connection by id, after the last one the first; until back at the start.
            f" SELECT nxt.connection_id, w.n + 1 FROM waiting w CROSS JOIN LATERAL (SELECT COALESCE("
            f"  (SELECT connection_id FROM {table} WHERE {fresh} AND connection_id > w.connection_id"
            f"   ORDER BY connection_id LIMIT 1),"
            f"  (SELECT connection_id FROM {table} WHERE {fresh} ORDER BY connection_id LIMIT 1)) AS connection_id) nxt"
            f"  WHERE w.n < %(scan)s AND nxt.connection_id <> (SELECT connection_id FROM start))"
            f" SELECT e.id FROM waiting w CROSS JOIN LATERAL ("
            f" SELECT id, received_at, row_number() OVER (ORDER BY received_at) AS nth FROM {table}"
            f" WHERE {fresh} AND connection_id = w.connection_id ORDER BY received_at"
            # A batch's worth of connections waiting: their heads are enough.
            f" LIMIT CASE WHEN (SELECT count(*) FROM waiting) >= %(limit)s THEN 1 ELSE %(limit)s END) e"
            f" ORDER BY e.nth, e.received_at LIMIT %(limit)s",
            {"vendor": vendor, "types": list(event_types), "limit": limit, "scan": limit * BACKLOG_FAIR_SCAN})
        picked = [row[0] for row in cursor.fetchall()]
    if not picked:
        return Backlog([], False)
    # raw(): the RETURNING rows become events through the fields' own converters.
    events = list(WebhookEvent.objects.raw(
        f"UPDATE {table} SET status = %s, attempts = attempts + 1, "
        f"claimed_until = now() + %s * interval '1 second' WHERE id IN ("
        f"SELECT id FROM {table} WHERE id = ANY(%s) AND status = %s AND attempts = 0 "
        f"FOR UPDATE SKIP LOCKED) RETURNING *",
        [WebhookEvent.Status.PROCESSING, EVENT_CLAIM_SECONDS, picked, WebhookEvent.Status.RECEIVED]))
    known = {connection.pk: connection for connection in connections}
    missing = {event.connection_id for event in events} - set(known) - {None}
    if missing:
        known.update(Connection.objects.select_related("organization").in_bulk(missing))
    for event in events:
        event.connection = known.get(event.connection_id)
    return Backlog(sorted(events, key=lambda e: e.received_at), len(picked) == limit)


def webhook_events_release(*, events: list[WebhookEvent]) -> None:
    """Give claimed events back, each handed to a task of its own again
    (their own tasks may have come and gone while they were claimed)."""
    from .webhooks import enqueue_webhook_event

    if not events:
        return
    WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        status=WebhookEvent.Status.RECEIVED, claimed_until=None)
    for event in events:
        enqueue_webhook_event(provider=get_provider(event.vendor), event_id=event.pk)


# An event still unclaimed this long after it was stored lost its publish.
UNCLAIMED_EVENT_SECONDS = 5 * 60


def webhook_events_requeue_unclaimed(*, older_than_seconds: float = UNCLAIMED_EVENT_SECONDS,
                                     limit: int = 1000) -> int:
    """Hand again to their vendor's task the stored events no task ever took
    (received, no attempt) for `older_than_seconds`, and the events whose
    claim ran out (a worker died holding them); returns how many.

    The acknowledgement follows the store and the publish follows the commit:
    if the broker was down at that moment the request fails after the row is
    committed, the vendor's retry is acknowledged as a duplicate, and without
    this sweep the event would wait for a support replay. An event that is
    only late (a deep backlog) may be handed over twice; processing is
    idempotent and the second task finds it done."""
    from .webhooks import enqueue_webhook_event

    now = timezone.now()
    cutoff = now - datetime.timedelta(seconds=older_than_seconds)
    never_taken = Q(status=WebhookEvent.Status.RECEIVED, attempts=0, received_at__lt=cutoff)
    claim_ran_out = Q(status=WebhookEvent.Status.PROCESSING, claimed_until__lt=now)
    stale = list(WebhookEvent.objects.filter(never_taken | claim_ran_out)
                 .order_by("received_at").values_list("pk", "vendor")[:limit])
    for event_id, vendor in stale:
        enqueue_webhook_event(provider=get_provider(vendor), event_id=event_id)
    if stale:
        logger.warning("re-enqueued %d webhook events that no task had taken", len(stale))
    return len(stale)


def webhook_event_finish(*, event: WebhookEvent, status: str, error: str = "") -> None:
    """Record a run's outcome; the claim ends."""
    webhook_events_finish(outcomes={event.pk: (status, error)})


def webhook_events_finish(*, outcomes: dict) -> None:
    """Record the outcomes ({event id: (status, error)}) of a run, in one statement."""
    if not outcomes:
        return
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {WebhookEvent._meta.db_table} AS e SET status = o.status, error = o.error, "
            f"processed_at = now(), claimed_until = NULL "
            f"FROM {rows_sql(['uuid', 'text', 'text'], len(outcomes))} AS o (id, status, error) WHERE e.id = o.id",
            rows_params([[pk, status, error[:2000]] for pk, (status, error) in outcomes.items()]))


def source_record_upsert(model, *, connection: Connection, external_id: str, values: dict):
    """Insert or update the `model` row (a SourceRecord) of `connection`'s
    `external_id` with `values` (see `source_records_upsert`)."""
    return source_records_upsert(model, rows=[(connection, external_id, values)])[0]


def source_records_upsert(model, *, rows: list[tuple[Connection, str, dict]]) -> list:
    """Insert or update `model` rows (SourceRecords), one per (connection,
    external_id, values), all with the same value names, in one
    `INSERT … ON CONFLICT (connection, external_id) DO UPDATE … RETURNING`
    (update_or_create takes five round trips a row inside a transaction);
    the rows may be of several connections (a backlog of several sellers'
    sales). They come back in the given order with their invoice links, so
    callers know which were already invoiced; an object given twice is
    written once, with its last values. A concurrent upsert of the same
    object waits for this one's transaction, then applies after it."""
    last = {(connection.pk, external_id): (connection, values) for connection, external_id, values in rows}
    records = [model(connection=connection, external_id=external_id, **values)
               for (_, external_id), (connection, values) in last.items()]
    if not records:
        return []
    quote = db_connection.ops.quote_name
    columns, types = insert_parts(model)
    updated = [model._meta.get_field(name).column for name in [*rows[0][2], "updated_at"]]
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({columns}) SELECT * FROM {rows_sql(types, len(records))} AS v"
            + f" ON CONFLICT ({quote('connection_id')}, {quote('external_id')}) DO UPDATE SET "
            + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updated)
            + f" RETURNING {quote('connection_id')}, {quote('external_id')}, {quote('id')}, {quote('invoice_id')},"
            + f" {quote('created_at')}",
            rows_params([insert_values(record) for record in records]))
        stored = {(connection_id, external_id): rest for connection_id, external_id, *rest in cursor.fetchall()}
    for record in records:
        record.pk, record.invoice_id, record.created_at = stored[(record.connection_id, record.external_id)]
        mark_saved(record)
    by_key = {(record.connection_id, record.external_id): record for record in records}
    return [by_key[(connection.pk, external_id)] for connection, external_id, _ in rows]


def source_records_link_invoices(model, *, links: list[tuple], clear: tuple[str, ...] = ()) -> int:
    """Link each (record id, invoice id) pair's `model` row (a SourceRecord)
    to its invoice, where it has none yet, in one UPDATE (bulk_update writes a
    CASE branch a row), emptying the text fields `clear` (the reason it was
    not invoiced) in the same statement; returns how many rows were linked."""
    if not links:
        return 0
    quote = db_connection.ops.quote_name
    table = quote(model._meta.db_table)
    cleared = "".join(f", {quote(model._meta.get_field(name).column)} = ''" for name in clear)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {quote('invoice_id')} = v.invoice_id, {quote('updated_at')} = %s{cleared} "
            f"FROM {rows_sql(['uuid', 'uuid'], len(links))} AS v(id, invoice_id) "
            f"WHERE {table}.{quote('id')} = v.id AND {table}.{quote('invoice_id')} IS NULL",
            [timezone.now(), *rows_params([list(link) for link in links])])
        return cursor.rowcount


def source_records_note_not_invoiced(model, *, reasons: list[tuple], field: str = "invoice_error") -> int:
    """Store on each (record id, reason) pair's `model` row (a SourceRecord)
    that has no invoice why it was not invoiced (`field`), in one UPDATE;
    returns how many rows were written."""
    now = timezone.now()
    return len(update_rows(model, {pk: {field: str(reason)[:2000], "updated_at": now} for pk, reason in reasons},
                           where_sql=f"o.{db_connection.ops.quote_name('invoice_id')} IS NULL"))

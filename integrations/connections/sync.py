"""The generic delta-sync runner.

A vendor supplies a `VendorSync` subclass (its `sync.py`) that knows how to
plan a run and fetch one page; this runner owns everything else:

- one run per connection at a time (PostgreSQL advisory lock);
- resume: `Connection.sync_checkpoint` holds the vendor's page state; a run
  that finds one continues from it instead of starting over;
- per-page checkpoint: the page's upserts, the next page state and the
  progress counters commit in ONE transaction, so a crash mid-page replays
  only that page (upserts are idempotent). The Connection row is taken FOR NO
  KEY UPDATE: webhook processing inserting rows that reference it (a KEY SHARE
  lock) is never blocked by, nor deadlocks with, a running page;
- completion: `sync_cursor` (the committed delta cursor) advances and the
  checkpoint is cleared in one transaction;
- rate limits: `RateLimited` propagates with `retry_after`; the Celery task
  retries with that countdown and the checkpoint keeps the place.
"""
from __future__ import annotations

import dataclasses
import logging
import zlib

from django.db import connection as db_connection, transaction
from django.utils import timezone

from .models import Connection
from .registry import get_provider

logger = logging.getLogger(__name__)

DELTA = "delta"
HISTORICAL = "historical"


@dataclasses.dataclass
class SyncPage:
    records: list  # vendor objects, handed back to VendorSync.apply
    state: dict | None  # the next page state; None when the run is complete


@dataclasses.dataclass
class SyncPlan:
    state: dict  # the first page state
    total: int | None  # how many records the run will visit, when known


@dataclasses.dataclass
class SyncResult:
    pages: int = 0
    records: int = 0
    complete: bool = False
    skipped: str = ""


class VendorSync:
    """Base of a vendor's sync class. Subclasses implement plan/fetch/apply."""

    def __init__(self, *, connection: Connection):
        self.connection = connection

    def plan(self, *, cursor: dict, mode: str) -> SyncPlan:
        raise NotImplementedError

    def fetch_page(self, state: dict) -> SyncPage:
        raise NotImplementedError

    def apply(self, records: list) -> int:
        """Upsert `records` (inside the runner's transaction); returns how many
        count toward progress."""
        raise NotImplementedError

    def cursor_after(self, *, plan_state: dict, cursor: dict) -> dict:
        """The committed delta cursor once a run has finished."""
        raise NotImplementedError

    def close(self):
        pass


class SyncBusy(Exception):
    pass


def _lock_key(connection_id) -> int:
    return zlib.crc32(f"sync:{connection_id}".encode()) - 2 ** 31


class _AdvisoryLock:
    def __init__(self, connection_id):
        self.key = _lock_key(connection_id)

    def __enter__(self):
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
            if not cursor.fetchone()[0]:
                raise SyncBusy()
        return self

    def __exit__(self, *exc):
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])


def sync_run(*, connection_id, mode: str = DELTA, max_pages: int | None = None) -> SyncResult:
    """Run (or resume) the sync of one connection. `max_pages` bounds this
    call (the task re-enqueues itself to continue)."""
    result = SyncResult()
    connection = Connection.objects.get(pk=connection_id)
    if connection.status not in (Connection.Status.CONNECTED, Connection.Status.SYNCING, Connection.Status.ERROR):
        result.skipped = connection.status
        return result
    provider = get_provider(connection.vendor)
    try:
        lock = _AdvisoryLock(connection.pk).__enter__()
    except SyncBusy:
        result.skipped = "busy"
        return result
    sync = provider.sync_class()(connection=connection)
    try:
        connection.refresh_from_db()
        checkpoint = connection.sync_checkpoint or {}
        if not checkpoint.get("state"):
            plan = sync.plan(cursor=connection.sync_cursor or {}, mode=mode)
            checkpoint = {"mode": mode, "plan": plan.state, "state": plan.state,
                          "started_at": timezone.now().isoformat()}
            fields = {"sync_checkpoint": checkpoint, "status": Connection.Status.SYNCING,
                      "sync_progress_done": 0, "sync_progress_total": plan.total}
            if mode == HISTORICAL:
                fields.update(import_started_at=timezone.now(), import_finished_at=None)
            if not plan.state:  # nothing to visit
                fields.update(sync_checkpoint={}, status=Connection.Status.CONNECTED, last_synced_at=timezone.now())
                if mode == HISTORICAL:
                    fields["import_finished_at"] = timezone.now()
            Connection.objects.filter(pk=connection.pk).update(updated_at=timezone.now(), **fields)
        while checkpoint.get("state"):
            if max_pages is not None and result.pages >= max_pages:
                return result
            page = sync.fetch_page(checkpoint["state"])
            with transaction.atomic():
                locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
                counted = sync.apply(page.records)
                checkpoint = {**checkpoint, "state": page.state}
                locked.sync_checkpoint = checkpoint
                locked.sync_progress_done += counted
                if locked.sync_progress_total is not None and locked.sync_progress_done > locked.sync_progress_total:
                    locked.sync_progress_total = locked.sync_progress_done
                if page.state is None:
                    locked.sync_cursor = sync.cursor_after(plan_state=checkpoint["plan"],
                                                           cursor=locked.sync_cursor or {})
                    locked.sync_checkpoint = {}
                    locked.last_synced_at = timezone.now()
                    if locked.status == Connection.Status.SYNCING:
                        locked.status = Connection.Status.CONNECTED
                    locked.last_error = ""
                    if checkpoint.get("mode") == HISTORICAL:
                        locked.import_finished_at = timezone.now()
                locked.save()
            result.pages += 1
            result.records += counted
        result.complete = True
        return result
    finally:
        sync.close()
        lock.__exit__(None, None, None)


def sync_record_failure(*, connection_id, error: str) -> None:
    """Called by the task after its last retry: the connection shows the error."""
    Connection.objects.filter(pk=connection_id).exclude(status=Connection.Status.NEEDS_REAUTH).update(
        status=Connection.Status.ERROR, last_error=error[:1000], updated_at=timezone.now())

"""Square order sync for the generic runner (integrations.connections.sync).

A run reads COMPLETED orders of the connection's selected (active) locations
by `updated_at`, ascending, between the committed cursor and a fixed end
chosen when the run is planned; Square's SearchOrders takes at most 10
locations per query, so the locations are split in chunks of 10 and each
chunk is paged with Square's cursor. The page state (chunk index, the exact
query, Square's cursor) is checkpointed after every page: Square binds a
cursor to the query that issued it, so the query is resent verbatim. A 429
raises RateLimited (retry_after); the runner's task retries with that
countdown and resumes from the checkpoint.

A delta run's orders go one at a time through `services.order_ingest`, the
upsert and idempotent invoice creation the webhooks use, and their invoices
are submitted on pos_realtime (recent sales whose webhooks were missed); the
first starts at the connection's creation, so connecting never submits the
seller's past sales unasked. A historical import's pages go through `services.orders_ingest` (the same
rows, a page in a few statements) and are submitted on `batch`, so an import
never delays a live sale.
"""
from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.connections.sync import HISTORICAL, SyncPage, SyncPlan, VendorSync
from integrations.pos.models import Location
from taxpoynt.errors import ApplicationError

from . import constants, services

logger = logging.getLogger(__name__)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class SquareOrderSync(VendorSync):
    page_limit = constants.SEARCH_DEFAULT_LIMIT
    # Orders updated in the last moments may still be settling: the next run
    # starts where this one ended, so nothing is skipped.
    lag = dt.timedelta(seconds=2)

    def __init__(self, *, connection):
        super().__init__(connection=connection)
        self._client = None
        self._queue = services.QUEUE

    @property
    def client(self):
        if self._client is None:
            self._client = services.client_for(self.connection)
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()

    def plan(self, *, cursor: dict, mode: str) -> SyncPlan:
        services.locations_refresh(connection=self.connection, client=self.client)
        ids = sorted(Location.objects.filter(connection=self.connection, active=True)
                     .values_list("external_id", flat=True))
        if not ids:
            return SyncPlan(state=None, total=0)
        end = timezone.now() - self.lag
        updated = {"end_at": _iso(end)}
        if mode != HISTORICAL:
            # The first delta run starts at the connection, not at the
            # seller's first sale: the sales before it are the historical
            # import's (on `batch`, when asked for) and the end of day's,
            # never years of them submitted unasked on pos_realtime.
            start = parse_datetime(cursor["updated_since"]) if cursor.get("updated_since") else self.connection.created_at
            if start >= end:  # connected within the lag: nothing settled to read yet
                return SyncPlan(state=None, total=0)
            updated["start_at"] = _iso(start)
        query = {"filter": {"state_filter": {"states": ["COMPLETED"]},
                            "date_time_filter": {"updated_at": updated}},
                 "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}
        chunks = [ids[i:i + constants.SEARCH_MAX_LOCATIONS] for i in range(0, len(ids), constants.SEARCH_MAX_LOCATIONS)]
        state = {"chunks": chunks, "chunk": 0, "query": query, "cursor": None, "end": updated["end_at"],
                 "mode": mode}
        return SyncPlan(state=state, total=None)

    def fetch_page(self, state: dict) -> SyncPage:
        self._queue = services.BATCH_QUEUE if state.get("mode") == HISTORICAL else services.QUEUE
        data = self.client.search_orders(location_ids=state["chunks"][state["chunk"]], query=state["query"],
                                         limit=self.page_limit, cursor=state.get("cursor"))
        cursor = data.get("cursor") or None
        if cursor:
            following = {**state, "cursor": cursor}
        elif state["chunk"] + 1 < len(state["chunks"]):
            following = {**state, "chunk": state["chunk"] + 1, "cursor": None}
        else:
            following = None
        return SyncPage(records=data.get("orders", []), state=following)

    def apply(self, records: list) -> int:
        if self._queue == services.BATCH_QUEUE:  # a historical import: old sales, a page at once
            services.orders_ingest(connection=self.connection, orders=records, client=self.client)
            return len(records)
        for order in records:
            try:
                services.order_ingest(connection=self.connection, order=order, queue=self._queue)
            except (ApplicationError, services.InvoiceNotReady) as exc:
                # One bad sale must not stop the import: it stays un-invoiced. An exchange whose sale has no IRN
                # yet is credited by its events' retries or the end of day.
                logger.warning("square order not invoiced", extra={"order": order.get("id"), "error": str(exc)})
        return len(records)

    def cursor_after(self, *, plan_state: dict, cursor: dict) -> dict:
        if not plan_state:
            return cursor
        return {**cursor, "updated_since": plan_state["end"]}

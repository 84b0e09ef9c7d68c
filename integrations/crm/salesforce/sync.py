"""The Salesforce delta sync (a `connections.sync.VendorSync`): one SOQL query
over the REST query endpoint (soql.delta_query: won Opportunities with their
OpportunityLineItems, Product2 through PricebookEntry, and Account), filtered
on SystemModstamp and ordered by (SystemModstamp, Id), paged by following
`nextRecordsUrl`.

Page state (checkpointed by the runner after every page, with that page's
upserts): `since`, the nextRecordsUrl to read next and the (SystemModstamp,
Id) of the last record applied. The query itself is built from the
connection's current configuration whenever a query starts, so fixing a field
map after a refused query (INVALID_FIELD) lets the same run continue. Resume after a crash reads the stored
nextRecordsUrl; when Salesforce has expired that query locator
(INVALID_QUERY_LOCATOR, ~15 minutes) the query restarts as an exact keyset
continuation after the last applied record, so no record is skipped.

Cursor: the run's start time (our clock) minus SYNC_OVERLAP_SECONDS becomes
the next run's `since`; overlapping re-reads are idempotent (deal_ingest
ignores versions it has, invoices are one per opportunity). The first delta
run's `since` is the connection's creation less the same overlap: earlier
wins are the historical import's, when asked for.
"""
from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.connections.sync import DELTA, SyncPage, SyncPlan, VendorSync, sync_record_failure

from .client import SalesforceApiError
from .provider import SYNC_OVERLAP_SECONDS
from .services import delta_config_for, opportunities_apply
from .session import OrgApi
from .soql import delta_query

INVALID_QUERY_LOCATOR = "INVALID_QUERY_LOCATOR"


class SalesforceOpportunitySync(VendorSync):
    def __init__(self, *, connection):
        super().__init__(connection=connection)
        self.api = OrgApi(connection)

    def close(self):
        self.api.close()

    def plan(self, *, cursor: dict, mode: str) -> SyncPlan:
        since = None
        if mode == DELTA:  # the first run starts at the connection (less the overlap): earlier wins are the
            # historical import's, never invoiced unasked
            since = parse_datetime(cursor["since"]) if cursor.get("since") else \
                self.connection.created_at - datetime.timedelta(seconds=SYNC_OVERLAP_SECONDS)
        started = timezone.now()
        return SyncPlan(state={"next": None, "since": since.isoformat() if since else None,
                               "last_stamp": None, "last_id": None, "started": started.isoformat()},
                        total=None)

    def cursor_after(self, *, plan_state: dict, cursor: dict) -> dict:
        if not plan_state:
            return cursor
        started = parse_datetime(plan_state["started"])
        return {**cursor, "since": (started - datetime.timedelta(seconds=SYNC_OVERLAP_SECONDS)).isoformat()}

    def fetch_page(self, state: dict) -> SyncPage:
        try:
            if state.get("next"):
                page = self.api.query_page(next_url=state["next"])
            else:
                page = self.api.query_page(soql=self._query(state))
        except SalesforceApiError as exc:
            if exc.error_code == INVALID_QUERY_LOCATOR and state.get("next"):
                # The locator expired: the same query, continued after the last record applied.
                return SyncPage(records=[], state={**state, "next": None})
            # Our query or configuration is wrong (e.g. a mapped field the org lacks): show it.
            sync_record_failure(connection_id=self.connection.pk,
                                error=f"Salesforce refused the sync query: {exc.message}")
            raise
        records = page.get("records") or []
        next_url = None if page.get("done", True) else page.get("nextRecordsUrl")
        last = records[-1] if records else None
        new_state = {**state, "next": next_url,
                     "last_stamp": last["SystemModstamp"] if last else state.get("last_stamp"),
                     "last_id": last["Id"] if last else state.get("last_id")}
        return SyncPage(records=records, state=new_state if next_url else None)

    def _query(self, state: dict) -> str:
        """The delta query from `since`, or an exact keyset continuation after
        the last record applied when a run is resumed without a locator."""
        config = delta_config_for(self.connection)
        if state.get("last_stamp"):
            return delta_query(since=parse_datetime(state["last_stamp"]), after_id=state.get("last_id"), config=config)
        return delta_query(since=parse_datetime(state["since"]) if state.get("since") else None, config=config)

    def apply(self, records: list) -> int:
        return opportunities_apply(connection=self.connection, records=records)

"""HubSpot deal sync: bundles (deal + line items + company + contact) and the
windowed CRM search the generic runner pages through.

Search facts (VENDORS.md §1.2): filter on `hs_lastmodifieddate`, sort
ascending, page with `after`; one query can never page past 10 000 results.
So a run is a list of time windows [lo, hi] (epoch ms, inclusive):

- the first page of a window also tells its `total`; up to the cap the window
  is paged with `after`; past it, the window is narrowed instead: the first
  page's records older than its last timestamp are kept and the window
  restarts at that timestamp, so no query ever needs to page past the cap;
- a window one millisecond wide that still holds more than the cap (many
  records sharing one timestamp) is read by `hs_object_id` keyset:
  `hs_lastmodifieddate = t AND hs_object_id > last`, sorted by id — it always
  moves forward, never loops;
- `hi` is fixed when the run is planned; anything modified later is picked up
  by the next delta run, which starts at hi + 1.

The page state is plain JSON (the runner checkpoints it after every page).
"""
from __future__ import annotations

import time

from integrations.connections.oauth import connection_get_access_token
from integrations.connections.sync import DELTA, SyncPage, SyncPlan, VendorSync

from .client import HubSpotClient
from .mapping import deal_record_from_bundle, deal_updated_at
from .provider import (BATCH_READ_MAX, COMPANY_PROPERTIES, CONTACT_PROPERTIES, DEAL_PROPERTIES, LAST_MODIFIED,
                       LINE_ITEM_PROPERTIES, SEARCH_PAGE_LIMIT, SEARCH_RESULT_CAP, HubSpotProvider)


def _ms(result: dict) -> int:
    return int(deal_updated_at(result).timestamp() * 1000)


def client_for(connection) -> HubSpotClient:
    return HubSpotClient(base_url=HubSpotProvider.api_base_url(),
                         access_token=connection_get_access_token(connection=connection), connection=connection)


def _mapped_properties(connection, obj: str) -> list[str]:
    """Custom properties the connection's field map reads from `obj`."""
    props = []
    for source in (connection.field_map or {}).values():
        o, _, p = str(source).partition(".")
        if (o == obj or (obj == "line_item" and o == "line")) and p:
            props.append(p)
    return props


def _primary_first(targets: list[dict]) -> list[str]:
    def is_primary(t):
        return any((a.get("label") or "").lower() == "primary" for a in t.get("associationTypes") or [])
    ordered = sorted(targets, key=lambda t: (not is_primary(t), str(t.get("toObjectId"))))
    return [str(t["toObjectId"]) for t in ordered]


def fetch_bundles(client: HubSpotClient, deals: list[dict], *, connection) -> list[dict]:
    """Deal bundles for `deals` (search/get results): 3 association reads (more
    only while a deal has more links than one association page) and up to 3
    batch reads per page, whatever the page size."""
    ids = [str(d["id"]) for d in deals]
    if not ids:
        return []
    line_links = client.associations("deals", "line_items", ids)
    company_links = client.associations("deals", "companies", ids)
    contact_links = client.associations("deals", "contacts", ids)
    primary_company = {i: (_primary_first(company_links.get(i, [])) or [None])[0] for i in ids}
    first_contact = {i: (_primary_first(contact_links.get(i, [])) or [None])[0] for i in ids}
    line_ids = sorted({str(t["toObjectId"]) for i in ids for t in line_links.get(i, [])})

    def read(obj_type, obj_ids, props, mapped):
        wanted = list(dict.fromkeys([*props, *mapped]))
        return {str(o["id"]): o for o in client.batch_read(obj_type, list(obj_ids), properties=wanted)} \
            if obj_ids else {}

    lines = read("line_items", line_ids, LINE_ITEM_PROPERTIES, _mapped_properties(connection, "line_item"))
    companies = read("companies", sorted({c for c in primary_company.values() if c}), COMPANY_PROPERTIES,
                     _mapped_properties(connection, "company"))
    contacts = read("contacts", sorted({c for c in first_contact.values() if c}), CONTACT_PROPERTIES,
                    _mapped_properties(connection, "contact"))
    bundles = []
    for deal in deals:
        i = str(deal["id"])
        item_ids = sorted({str(t["toObjectId"]) for t in line_links.get(i, [])}, key=lambda x: (len(x), x))
        bundles.append({
            "deal": deal,
            "line_items": [lines[x] for x in item_ids if x in lines],
            "company": companies.get(primary_company[i]) if primary_company[i] else None,
            "contact": contacts.get(first_contact[i]) if first_contact[i] else None,
        })
    return bundles


def deal_properties(connection) -> list[str]:
    return list(dict.fromkeys([*DEAL_PROPERTIES, *_mapped_properties(connection, "deal")]))


def fetch_deal_bundle(client: HubSpotClient, deal_id: str, *, connection) -> dict:
    deal = client.get_object("deals", deal_id, properties=deal_properties(connection))
    return fetch_bundles(client, [deal], connection=connection)[0]


class HubSpotDealSync(VendorSync):
    page_limit = SEARCH_PAGE_LIMIT
    result_cap = SEARCH_RESULT_CAP
    # HubSpot's search index trails writes by a few seconds: leave the newest
    # moments to the next run (its window starts where this one ended).
    index_lag_ms = 2000

    def __init__(self, *, connection):
        super().__init__(connection=connection)
        self._client = None

    @property
    def client(self) -> HubSpotClient:
        if self._client is None:
            self._client = client_for(self.connection)
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()

    # --- planning --------------------------------------------------------------
    def plan(self, *, cursor: dict, mode: str) -> SyncPlan:
        # The first delta run starts at the connection: deals won before it
        # are the historical import's (when asked for), never invoiced unasked.
        lo = int(cursor.get("since_ms") or self.connection.created_at.timestamp() * 1000) if mode == DELTA else 0
        hi = int(time.time() * 1000) - self.index_lag_ms
        if hi < lo:
            return SyncPlan(state=None, total=0)
        probe = self.client.search("deals", self._window_body(lo, hi, limit=1))
        state = {"windows": [[lo, hi]], "after": None, "keyset": None, "hi": hi}
        return SyncPlan(state=state, total=int(probe.get("total", 0)))

    def cursor_after(self, *, plan_state: dict, cursor: dict) -> dict:
        if not plan_state:
            return cursor
        return {**cursor, "since_ms": int(plan_state["hi"]) + 1}

    # --- queries ----------------------------------------------------------------
    def _window_body(self, lo: int, hi: int, *, limit: int, after: str | None = None) -> dict:
        body = {
            "filterGroups": [{"filters": [
                {"propertyName": LAST_MODIFIED, "operator": "GTE", "value": str(lo)},
                {"propertyName": LAST_MODIFIED, "operator": "LTE", "value": str(hi)},
            ]}],
            "sorts": [{"propertyName": LAST_MODIFIED, "direction": "ASCENDING"}],
            "properties": deal_properties(self.connection),
            "limit": limit,
        }
        if after:
            body["after"] = after
        return body

    def _keyset_body(self, ts: int, id_gt: str) -> dict:
        return {
            "filterGroups": [{"filters": [
                {"propertyName": LAST_MODIFIED, "operator": "EQ", "value": str(ts)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": id_gt},
            ]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": deal_properties(self.connection),
            "limit": self.page_limit,
        }

    # --- paging -------------------------------------------------------------------
    def fetch_page(self, state: dict) -> SyncPage:
        windows = [list(w) for w in state["windows"]]
        if not windows:
            return SyncPage(records=[], state=None)
        lo, hi = windows[0]
        if state.get("keyset") is not None:
            data = self.client.search("deals", self._keyset_body(lo, state["keyset"]))
            results = data.get("results", [])
            if len(results) < self.page_limit:
                return self._page(results, self._next_window(windows, state))
            return self._page(results, {**state, "keyset": str(results[-1]["id"])})
        data = self.client.search("deals", self._window_body(lo, hi, limit=self.page_limit, after=state.get("after")))
        total = int(data.get("total", 0))
        results = data.get("results", [])
        if state.get("after") is None and total > self.result_cap:
            return self._narrow(state, windows, results)
        after = ((data.get("paging") or {}).get("next") or {}).get("after")
        if after:
            return self._page(results, {**state, "after": str(after)})
        return self._page(results, self._next_window(windows, state))

    def _narrow(self, state: dict, windows: list, results: list[dict]) -> SyncPage:
        """The window holds more than one query may page through. Its first page
        is sorted by hs_lastmodifieddate: every record older than the page's
        last timestamp is on it, so keep those and restart the window at that
        timestamp (lo strictly increases: progress, never a loop). A page whose
        records all share one timestamp isolates that millisecond, which is
        then paged by `after` or, past the cap, by hs_object_id keyset."""
        lo, hi = windows[0]
        if lo == hi:
            return SyncPage(records=[], state={**state, "keyset": "0", "after": None})
        stamps = [_ms(r) for r in results]
        first, last = stamps[0], stamps[-1]
        if first == last:
            windows[0:1] = [[first, first]] + ([[first + 1, hi]] if first < hi else [])
            return SyncPage(records=[], state={**state, "windows": windows, "after": None, "keyset": None})
        windows[0] = [last, hi]
        kept = [r for r, ts in zip(results, stamps) if ts < last]
        return self._page(kept, {**state, "windows": windows, "after": None, "keyset": None})

    @staticmethod
    def _next_window(windows, state=None) -> dict | None:
        rest = windows[1:]
        if not rest:
            return None
        base = state or {}
        return {**base, "windows": rest, "after": None, "keyset": None, "hi": base.get("hi", rest[-1][1])}

    def _page(self, results: list[dict], next_state: dict | None) -> SyncPage:
        bundles = fetch_bundles(self.client, results, connection=self.connection) if results else []
        return SyncPage(records=bundles, state=next_state)

    def apply(self, records: list) -> int:
        from integrations.crm.services import deal_ingest

        for bundle in records:
            deal_ingest(connection=self.connection, record=deal_record_from_bundle(bundle, connection=self.connection))
        return len(records)

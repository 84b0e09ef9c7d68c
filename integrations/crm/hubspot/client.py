"""HubSpot API client on the shared VendorClient (recording, error mapping).

Rate limits (VENDORS.md §1.3): a 429 says which budget ran out in
`policyName` (TEN_SECONDLY_ROLLING, SECONDLY for search, DAILY; names
UNCONFIRMED) and may carry Retry-After and X-HubSpot-RateLimit-* headers. We
wait the rolling interval inline when short, else hand the wait to the task.
"""
from __future__ import annotations

import datetime

import httpx
from django.utils import timezone

from integrations.connections.http import VendorClient, retry_after_seconds

from .provider import (BATCH_READ_MAX, CRM_ASSOCIATIONS_BATCH_READ_PATH, CRM_BATCH_READ_PATH, CRM_OBJECT_PATH,
                       CRM_PIPELINES_PATH, CRM_SEARCH_PATH)


class HubSpotClient(VendorClient):
    vendor = "hubspot"
    max_inline_wait = 12.0  # one ten-second rolling window

    def rate_limit_delay(self, response: httpx.Response, attempt: int) -> float:
        if response.headers.get("Retry-After"):
            return retry_after_seconds(response)
        try:
            policy = (response.json() or {}).get("policyName", "")
        except ValueError:
            policy = ""
        interval_ms = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")
        if policy == "DAILY" or response.headers.get("X-HubSpot-RateLimit-Daily-Remaining") == "0":
            now = timezone.now()
            tomorrow = (now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            return (tomorrow - now).total_seconds()
        if policy == "SECONDLY":
            return 1.0 * attempt
        if interval_ms.isdigit() and (policy == "TEN_SECONDLY_ROLLING"
                                      or response.headers.get("X-HubSpot-RateLimit-Remaining") == "0"):
            return int(interval_ms) / 1000
        if response.headers.get("X-HubSpot-RateLimit-Secondly-Remaining") == "0":
            return 1.0 * attempt
        return min(2.0 ** attempt, 10.0)

    # --- CRM (paths: provider.CRM_API_VERSION) --------------------------------
    def search(self, object_type: str, body: dict) -> dict:
        return self.request("POST", CRM_SEARCH_PATH.format(object_type=object_type), json_body=body).json()

    def get_object(self, object_type: str, object_id: str, *, properties=(), associations=()) -> dict:
        params = {}
        if properties:
            params["properties"] = ",".join(properties)
        if associations:
            params["associations"] = ",".join(associations)
        return self.request("GET", CRM_OBJECT_PATH.format(object_type=object_type, object_id=object_id),
                            params=params).json()

    def batch_read(self, object_type: str, ids: list[str], *, properties=()) -> list[dict]:
        results = []
        for start in range(0, len(ids), BATCH_READ_MAX):
            chunk = ids[start:start + BATCH_READ_MAX]
            body = {"inputs": [{"id": i} for i in chunk], "properties": list(properties)}
            results.extend(self.request("POST", CRM_BATCH_READ_PATH.format(object_type=object_type),
                                        json_body=body).json().get("results", []))
        return results

    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[dict]]:
        """{from id: [{toObjectId, associationTypes}]}, every page of each: a
        result carries `paging.next.after` while its id has more, and the next
        request sends that id again with the cursor (other ids are done)."""
        path = CRM_ASSOCIATIONS_BATCH_READ_PATH.format(from_type=from_type, to_type=to_type)
        out: dict[str, list[dict]] = {}
        for start in range(0, len(ids), BATCH_READ_MAX):
            inputs = [{"id": i} for i in ids[start:start + BATCH_READ_MAX]]
            seen = set()
            while inputs:
                data = self.request("POST", path, json_body={"inputs": inputs}).json()
                inputs = []
                for row in data.get("results", []):
                    from_id = str(row["from"]["id"])
                    out.setdefault(from_id, []).extend(row.get("to", []))
                    after = ((row.get("paging") or {}).get("next") or {}).get("after")
                    if after and (from_id, str(after)) not in seen:  # a repeated cursor would never end
                        seen.add((from_id, str(after)))
                        inputs.append({"id": from_id, "after": str(after)})
        return out

    def deal_pipelines(self) -> list[dict]:
        return self.request("GET", CRM_PIPELINES_PATH.format(object_type="deals")).json().get("results", [])

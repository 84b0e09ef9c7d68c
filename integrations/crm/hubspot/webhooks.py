"""HubSpot webhook signature (v3) and event parsing (VENDORS.md §1.4).

v3: base64(HMAC-SHA256(client secret, method + URI + raw body + timestamp)),
timestamp in ms in X-HubSpot-Request-Timestamp, rejected when older than
5 minutes; compared in constant time. The body is a JSON array of events,
each de-duplicated on `eventId`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from integrations.connections.registry import ParsedEvent, WebhookRejected

from .provider import MAX_TIMESTAMP_AGE_MS, SIGNATURE_HEADER, TIMESTAMP_HEADER, V3_URI_DECODE


def v3_signature(*, secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    for escaped, char in V3_URI_DECODE.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    source = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def verify_v3(*, secret: str, method: str, uri: str, body: bytes, headers: dict[str, str],
              now_ms: int | None = None) -> None:
    signature = headers.get(SIGNATURE_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise WebhookRejected("missing_signature", "X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp "
                                                   "are required.")
    try:
        sent_ms = int(timestamp)
    except ValueError:
        raise WebhookRejected("bad_timestamp", "X-HubSpot-Request-Timestamp is not a number.") from None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    # Check the signature first so a forged timestamp never reveals anything.
    expected = v3_signature(secret=secret, method=method, uri=uri, body=body, timestamp=timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookRejected("bad_signature", "The v3 signature does not match.")
    if now_ms - sent_ms > MAX_TIMESTAMP_AGE_MS:
        raise WebhookRejected("stale_timestamp", "The request timestamp is older than 5 minutes.")
    if sent_ms - now_ms > MAX_TIMESTAMP_AGE_MS:
        raise WebhookRejected("stale_timestamp", "The request timestamp is in the future.")


def parse_events(body: bytes) -> list[ParsedEvent]:
    try:
        data = json.loads(body)
    except ValueError:
        raise WebhookRejected("malformed", "The body is not JSON.") from None
    if not isinstance(data, list):
        raise WebhookRejected("malformed", "The body must be a JSON array of events.")
    events = []
    for item in data:
        if not isinstance(item, dict) or item.get("eventId") in (None, "") or item.get("portalId") in (None, ""):
            raise WebhookRejected("malformed", "Every event needs eventId and portalId.")
        events.append(ParsedEvent(event_id=str(item["eventId"]), event_type=str(item.get("subscriptionType", "")),
                                  account_id=str(item["portalId"]), payload=item))
    return events


def event_from_body(body: bytes, event_id: str) -> dict | None:
    """The one event of a stored delivery (a delivery carries up to 100)."""
    for item in json.loads(body):
        if str(item.get("eventId")) == event_id:
            return item
    return None

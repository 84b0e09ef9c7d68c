"""Square webhook signature verification and event parsing (pure functions).

Square signs each delivery with the subscription's signature key:
`x-square-hmacsha256-signature` = base64(HMAC-SHA256(key, notification_url +
raw body)). The URL must be the one registered with Square, byte for byte (so
behind a proxy use the public URL, not the one the request arrived on). Square
sends no timestamp, so replays are stopped by de-duplicating on `event_id`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from integrations.pos.square import constants


class WebhookError(ValueError):
    """The body is not a Square event we can read."""


def compute_signature(*, signature_key: str, notification_url: str, body: bytes) -> str:
    digest = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(*, signature_key: str, notification_url: str, body: bytes, signature: str | None) -> bool:
    """True when `signature` (the x-square-hmacsha256-signature header) is
    Square's signature of `notification_url + body`; constant-time compare."""
    if not signature or not signature_key:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def signature_from_headers(headers) -> str | None:
    """The SHA-256 signature from a headers mapping (any case)."""
    for name, value in headers.items():
        if name.lower() == constants.SIGNATURE_HEADER:
            return value
    return None


@dataclass(frozen=True)
class SquareEvent:
    event_id: str
    type: str
    merchant_id: str
    created_at: str
    object_type: str  # data.type: "order", "payment", "refund"
    object_id: str  # data.id
    order_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    location_id: str | None = None
    state: str | None = None  # order state, or payment/refund status
    version: int | None = None


def parse_event(body: bytes) -> SquareEvent:
    """Read the identifiers out of one delivery. Raises WebhookError."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookError("body is not a JSON object")
    for key in ("event_id", "type", "merchant_id", "data"):
        if not data.get(key):
            raise WebhookError(f"missing {key}")
    d = data["data"]
    if not isinstance(d, dict):
        raise WebhookError("data is not an object")
    obj = d.get("object") or {}
    event_type = data["type"]
    kw: dict = {}
    summary_key = constants.ORDER_EVENT_OBJECT_KEYS.get(event_type)
    if summary_key:
        s = obj.get(summary_key) or {}
        kw = {"order_id": s.get("order_id") or d.get("id"), "location_id": s.get("location_id"),
              "state": s.get("state"), "version": s.get("version")}
    elif event_type.startswith("payment."):
        p = obj.get("payment") or {}
        kw = {"payment_id": p.get("id") or d.get("id"), "order_id": p.get("order_id"),
              "location_id": p.get("location_id"), "state": p.get("status")}
    elif event_type.startswith("refund."):
        r = obj.get("refund") or {}
        kw = {"refund_id": r.get("id") or d.get("id"), "payment_id": r.get("payment_id"),
              "order_id": r.get("order_id"), "location_id": r.get("location_id"), "state": r.get("status")}
    return SquareEvent(event_id=str(data["event_id"]), type=event_type, merchant_id=str(data["merchant_id"]),
                       created_at=str(data.get("created_at", "")), object_type=str(d.get("type", "")),
                       object_id=str(d.get("id", "")), **kw)

"""Square webhook signature verification and parsing (integrations/pos/square/webhooks.py)."""
import base64
import hashlib
import hmac
import json

import pytest

from integrations.pos.square import webhooks

KEY = "asdf1234signaturekey"
URL = "https://taxpoynt.example.ng/webhooks/pos/square"
BODY = json.dumps({
    "merchant_id": "MLW1", "type": "order.updated", "event_id": "a1b2c3", "created_at": "2026-05-02T10:05:00Z",
    "data": {"type": "order", "id": "ORD1", "object": {"order_updated": {
        "order_id": "ORD1", "version": 3, "state": "COMPLETED", "location_id": "L1",
        "created_at": "2026-05-02T10:00:00Z", "updated_at": "2026-05-02T10:05:00Z"}}},
}).encode()


def reference_signature(key, url, body):
    # Square's documented scheme, written out independently of the module.
    return base64.b64encode(hmac.new(key.encode(), (url + body.decode()).encode(), hashlib.sha256).digest()).decode()


def test_verify_accepts_squares_signature_and_nothing_else():
    sig = reference_signature(KEY, URL, BODY)
    assert webhooks.compute_signature(signature_key=KEY, notification_url=URL, body=BODY) == sig
    assert webhooks.verify_signature(signature_key=KEY, notification_url=URL, body=BODY, signature=sig)
    assert not webhooks.verify_signature(signature_key=KEY, notification_url=URL + "?x=1", body=BODY, signature=sig)
    assert not webhooks.verify_signature(signature_key=KEY, notification_url=URL, body=BODY + b" ", signature=sig)
    assert not webhooks.verify_signature(signature_key="other", notification_url=URL, body=BODY, signature=sig)
    assert not webhooks.verify_signature(signature_key=KEY, notification_url=URL, body=BODY, signature=None)
    assert not webhooks.verify_signature(signature_key=KEY, notification_url=URL, body=BODY, signature="%%%")
    assert not webhooks.verify_signature(signature_key="", notification_url=URL, body=BODY, signature=sig)
    # the legacy SHA-1 signature is not accepted in place of the SHA-256 one
    sha1 = base64.b64encode(hmac.new(KEY.encode(), URL.encode() + BODY, hashlib.sha1).digest()).decode()
    assert not webhooks.verify_signature(signature_key=KEY, notification_url=URL, body=BODY, signature=sha1)


def test_signature_header_lookup_is_case_insensitive():
    assert webhooks.signature_from_headers({"X-Square-HmacSha256-Signature": "abc"}) == "abc"
    assert webhooks.signature_from_headers({"x-square-signature": "legacy"}) is None


def test_parse_order_event():
    e = webhooks.parse_event(BODY)
    assert (e.event_id, e.type, e.merchant_id, e.object_type, e.object_id) == (
        "a1b2c3", "order.updated", "MLW1", "order", "ORD1")
    assert (e.order_id, e.state, e.version, e.location_id) == ("ORD1", "COMPLETED", 3, "L1")


def test_parse_payment_and_refund_events():
    pay = webhooks.parse_event(json.dumps({
        "merchant_id": "M", "type": "payment.updated", "event_id": "e2", "created_at": "x",
        "data": {"type": "payment", "id": "P1", "object": {"payment": {
            "id": "P1", "order_id": "O1", "location_id": "L1", "status": "COMPLETED"}}}}).encode())
    assert (pay.payment_id, pay.order_id, pay.state) == ("P1", "O1", "COMPLETED")
    ref = webhooks.parse_event(json.dumps({
        "merchant_id": "M", "type": "refund.created", "event_id": "e3", "created_at": "x",
        "data": {"type": "refund", "id": "R1", "object": {"refund": {
            "id": "R1", "payment_id": "P1", "order_id": "RET1", "status": "PENDING"}}}}).encode())
    assert (ref.refund_id, ref.payment_id, ref.order_id, ref.state) == ("R1", "P1", "RET1", "PENDING")


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"type": "order.updated"}',
                                  b'{"merchant_id":"M","type":"t","event_id":"e","data":"x"}'])
def test_parse_rejects_malformed_bodies(body):
    with pytest.raises(webhooks.WebhookError):
        webhooks.parse_event(body)

"""Processing one stored HubSpot webhook event: fetch the deal as it is now
and hand it to the same upsert the delta sync uses (crm.services.deal_ingest).
The event table maps subscription type → handler (Sentry's webhook pattern)."""
from __future__ import annotations

from integrations.connections.models import WebhookEvent
from integrations.crm.services import deal_ingest

from .mapping import deal_record_from_bundle, deleted_bundle
from .sync import client_for, fetch_deal_bundle
from .webhooks import event_from_body


def _deal_id(payload: dict) -> str:
    # Association changes name the deal as fromObjectId (deal → line item/company/contact).
    return str(payload.get("objectId") or payload.get("fromObjectId") or "")


def _deal_changed(event: WebhookEvent, payload: dict) -> str:
    connection = event.connection
    with client_for(connection) as client:
        bundle = fetch_deal_bundle(client, _deal_id(payload), connection=connection)
    deal_ingest(connection=connection, record=deal_record_from_bundle(bundle, connection=connection))
    return WebhookEvent.Status.PROCESSED


def _deal_deleted(event: WebhookEvent, payload: dict) -> str:
    connection = event.connection
    bundle = deleted_bundle(_deal_id(payload), int(payload.get("occurredAt") or 0))
    deal_ingest(connection=connection, record=deal_record_from_bundle(bundle, connection=connection))
    return WebhookEvent.Status.PROCESSED


HANDLERS = {
    "deal.creation": _deal_changed,
    "deal.propertyChange": _deal_changed,
    "deal.associationChange": _deal_changed,
    "deal.restore": _deal_changed,
    "deal.deletion": _deal_deleted,
}


def webhook_event_process(*, event: WebhookEvent) -> str:
    """The event's final status (processed / ignored); raises on failures the
    task retries."""
    if event.connection_id is None or event.connection.status == "disconnected":
        return WebhookEvent.Status.IGNORED
    payload = event_from_body(bytes(event.raw_body), event.event_id) or {}
    handler = HANDLERS.get(payload.get("subscriptionType", event.event_type))
    if handler is None or not _deal_id(payload):
        return WebhookEvent.Status.IGNORED
    return handler(event, payload)

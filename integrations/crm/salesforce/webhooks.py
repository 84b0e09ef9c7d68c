"""Salesforce push events, stored raw before anything else happens:

Outbound Messages (SOAP; `outbound.py` parses with zeep against the WSDL).
They carry no signature, so each connection gets its own listener URL,
`/webhooks/crm/salesforce?c=<connection id>&token=<secret>`, the secret
created at connect time and stored encrypted with the tokens. The generic
intake (connections.webhooks) calls `verify_outbound_message`:
  unknown connection / wrong token → 401 `bad_token`;
  not a SOAP outbound-message envelope / not matching the WSDL → 400
  `malformed` with the parser's reason;
  OrganizationId not the connected org → 401 `wrong_org`.
Refusals are answered with the framework's JSON {code, message} and logged
as a RejectedWebhook; nothing enters WebhookEvent. Accepted messages become
one WebhookEvent per Notification (event id `om:<notification id>`, so
Salesforce's retries and resends are de-duplicated), and only after they are
committed is the SOAP `<Ack>true</Ack>` sent (Provider.webhook_ack).

Change Data Capture-style events (`change_events_poll`): the sandbox's
`/_sandbox/cdc` polling feed, a SIMPLIFIED stand-in for the CometD / Pub/Sub
API stream (same event shape and replay ids; production would subscribe to
/data/OpportunityChangeEvent). Each event is stored as a WebhookEvent
(`cdc:<org>:<replayId>`) and the replay id advances only after the store
commits.

Both kinds are processed the same way (services.webhook_event_process): the
opportunity ids they name are re-read over REST and upserted.
"""
from __future__ import annotations

import hmac
import json
from urllib.parse import parse_qs, urlparse

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.expressions import RawSQL

from integrations.connections.models import Connection, WebhookEvent
from integrations.connections.oauth import connection_credentials
from integrations.connections.registry import ParsedEvent, WebhookRejected

from . import outbound
from .ids import same_id, to_18
from .provider import WEBHOOK_CONNECTION_PARAM, WEBHOOK_TOKEN_PARAM, SalesforceProvider

OUTBOUND_EVENT = "outbound_message"
CDC_EVENT = "change_event"


def listener_url(connection, *, base_url: str) -> str:
    """The outbound-message endpoint URL to configure in the org's Outbound Message (provider.OUTBOUND_SETUP)."""
    token = connection_credentials(connection).get("webhook_token", "")
    return (f"{base_url.rstrip('/')}/webhooks/crm/salesforce?{WEBHOOK_CONNECTION_PARAM}={connection.pk}"
            f"&{WEBHOOK_TOKEN_PARAM}={token}")


def _connection_for(uri: str) -> Connection:
    query = parse_qs(urlparse(uri).query)
    connection_id = (query.get(WEBHOOK_CONNECTION_PARAM) or [""])[0]
    token = (query.get(WEBHOOK_TOKEN_PARAM) or [""])[0]
    if not connection_id or not token:
        raise WebhookRejected("bad_token", "The listener URL lacks its connection id and token.")
    try:
        connection = (Connection.objects.exclude(status=Connection.Status.DISCONNECTED)
                      .get(pk=connection_id, vendor=SalesforceProvider.key))
    except (Connection.DoesNotExist, ValueError, ValidationError):  # unknown or not a UUID
        raise WebhookRejected("bad_token", "No connected Salesforce org for this listener URL.") from None
    expected = connection_credentials(connection).get("webhook_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        raise WebhookRejected("bad_token", "The listener token does not match.")
    return connection


def verify_outbound_message(*, uri: str, body: bytes) -> None:
    connection = _connection_for(uri)
    try:
        message = outbound.parse_message(body, expected_org_id=None)
    except outbound.OutboundMessageError as exc:
        raise WebhookRejected("malformed", f"Not an outbound message: {exc.reason}") from None
    if not same_id(message.organization_id, connection.external_account_id):
        raise WebhookRejected("wrong_org", f"OrganizationId {message.organization_id} is not the org connected "
                                           f"to this listener URL.")


def parse_events(body: bytes) -> list[ParsedEvent]:
    try:
        message = outbound.parse_message(body, expected_org_id=None)
    except outbound.OutboundMessageError as exc:
        raise WebhookRejected("malformed", f"Not an outbound message: {exc.reason}") from None
    org = to_18(message.organization_id)
    return [ParsedEvent(event_id=f"om:{n['id']}", event_type=OUTBOUND_EVENT, account_id=org,
                        payload={"sobject_type": n["sobject_type"], "id": n["fields"].get("Id")})
            for n in message.notifications]


def event_opportunity_ids(event: WebhookEvent) -> list[str]:
    """The Opportunity ids a stored event names."""
    body = bytes(event.raw_body)
    if event.event_type == OUTBOUND_EVENT:
        message = outbound.parse_message(body, expected_org_id=None)
        wanted = event.event_id.removeprefix("om:")
        return [str(n["fields"]["Id"]) for n in message.notifications
                if n["id"] == wanted and n["sobject_type"] == "Opportunity" and n["fields"].get("Id")]
    if event.event_type == CDC_EVENT:
        header = (json.loads(body).get("payload") or {}).get("ChangeEventHeader") or {}
        if header.get("entityName") != "Opportunity" or header.get("changeType") == "DELETE":
            return []
        return [str(i) for i in header.get("recordIds") or []]
    return []


def change_events_poll(*, connection: Connection, limit_pages: int = 10) -> list:
    """Store the org's new change events (replay id kept in
    Connection.settings["cdc_replay_id"]) and return them (StoredEvent:
    id, connection, type); the caller dispatches them."""
    import httpx

    from integrations.connections.webhooks import webhook_events_store

    from .session import recording_http

    stored = []
    replay = (connection.settings or {}).get("cdc_replay_id", -1)
    with recording_http(connection=connection) as http:
        for _ in range(limit_pages):
            response = http.get(SalesforceProvider.api_base_url() + "/_sandbox/cdc", params={"replayId": replay})
            if response.status_code != 200:
                raise httpx.HTTPStatusError("change event feed failed", request=response.request, response=response)
            data = response.json()
            events = data.get("events") or []
            if not events:
                if int(replay) < 0 and data.get("latestReplayId") is not None:
                    # First poll: remember the tip, so later polls start from here (replay -1 = new only).
                    Connection.objects.filter(pk=connection.pk).update(settings=RawSQL(
                        "COALESCE(settings, '{}'::jsonb) || jsonb_build_object('cdc_replay_id', %s::int)",
                        [int(data["latestReplayId"])]))
                break
            with transaction.atomic():
                locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
                for item in events:
                    parsed = ParsedEvent(event_id=f"cdc:{connection.external_account_id}:{item['replayId']}",
                                         event_type=CDC_EVENT, account_id=connection.external_account_id,
                                         payload=item)
                    stored += webhook_events_store(vendor=SalesforceProvider.key, events=[parsed],
                                                   body=json.dumps(item).encode(), headers={})
                replay = max(int(i["replayId"]) for i in events)
                locked.settings = {**(locked.settings or {}), "cdc_replay_id": replay}
                locked.save(update_fields=["settings", "updated_at"])
    return stored

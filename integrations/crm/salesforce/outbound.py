"""Salesforce Outbound Messages: parse the SOAP `notifications` request and
build the `notificationsResponse` Ack, both through zeep against the WSDL we
ship (`outbound_message.wsdl`).

zeep is a SOAP *client*, but its WSDL objects work server-side too: the
binding's operation `notifications` has an `input` message whose
`deserialize(envelope)` reads a request envelope into typed values (Decimal,
date, datetime, bool) and an `output` message whose `serialize(Ack=True)`
writes the response envelope. So no hand-written XML walking is needed; lxml
only pre-checks that the bytes are a SOAP envelope carrying `notifications`
(with entities and network access off) so a wrong body gets a clear reason.

Outbound messages carry no signature; the only check Salesforce offers is the
OrganizationId, compared here (15- or 18-character forms). Fields an admin adds
to the action that our WSDL does not list are returned as text. Notifications
may repeat (retries, duplicates): callers de-duplicate on the notification id.
zeep reads an unparseable date/datetime/boolean as absent (it logs and returns
None) but refuses a non-numeric decimal; either way the sync re-reads the
Opportunity over REST, so a notification is only a trigger.
"""
from __future__ import annotations

import datetime
import decimal
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from zeep import Transport
from zeep.exceptions import Error as ZeepError
from zeep.settings import Settings
from zeep.wsdl import Document

from . import facts
from .ids import same_id

WSDL_PATH = Path(__file__).with_name("outbound_message.wsdl")
_BINDING = f"{{{facts.OUTBOUND_NS}}}NotificationBinding"
_ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


class OutboundMessageError(ValueError):
    """The request is not an acceptable Outbound Message; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class OutboundMessage:
    organization_id: str
    action_id: str
    session_id: str | None
    enterprise_url: str
    partner_url: str
    notifications: list[dict]  # {"id", "sobject_type", "fields": {name: value}}


@functools.lru_cache(maxsize=1)
def _operation():
    # strict=False: fields outside our WSDL become raw elements, not an error.
    settings = Settings(strict=False, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    document = Document(str(WSDL_PATH), Transport(), settings=settings)
    return document.bindings[_BINDING].get("notifications")


def parse_message(body: bytes, *, expected_org_id: str | None) -> OutboundMessage:
    """Read an Outbound Message. Raises OutboundMessageError when the body is
    not a SOAP notifications envelope, does not match the WSDL, or comes from
    another org than `expected_org_id` (None skips that check)."""
    try:
        envelope = etree.fromstring(body, parser=_SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise OutboundMessageError(f"not XML: {exc}") from None
    if envelope.getroottree().docinfo.doctype:
        # SOAP messages must not carry a DTD (SOAP 1.1 §3); refusing it also shuts out entity tricks.
        raise OutboundMessageError("a SOAP message must not contain a DTD")
    if envelope.tag != f"{{{facts.SOAP_ENV_NS}}}Envelope":
        raise OutboundMessageError(f"not a SOAP 1.1 envelope (root element {envelope.tag})")
    notifications = envelope.find(f"{{{facts.SOAP_ENV_NS}}}Body/{{{facts.OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise OutboundMessageError("the SOAP body has no outbound-message notifications element")
    items = notifications.findall(f"{{{facts.OUTBOUND_NS}}}Notification")
    if not items:
        raise OutboundMessageError("the message holds no Notification")
    if len(items) > facts.OUTBOUND_MAX_NOTIFICATIONS:
        raise OutboundMessageError(f"{len(items)} notifications; at most {facts.OUTBOUND_MAX_NOTIFICATIONS} are sent at once")
    try:
        result = _operation().input.deserialize(envelope)
    except (ZeepError, ValueError, TypeError, ArithmeticError, decimal.InvalidOperation) as exc:
        raise OutboundMessageError(f"does not match the outbound message WSDL: {exc}") from None
    if not _ID.match(result.OrganizationId or ""):
        # zeep does not enforce the WSDL's ID facets, so the shape is checked here.
        raise OutboundMessageError(f"OrganizationId {result.OrganizationId!r} is not a Salesforce id")
    if expected_org_id is not None and not same_id(result.OrganizationId, expected_org_id):
        raise OutboundMessageError(f"OrganizationId {result.OrganizationId} is not the connected org")
    parsed = []
    for item, value in zip(items, result.Notification):
        sobject = item.find(f"{{{facts.OUTBOUND_NS}}}sObject")
        if not _ID.match(value.Id or "") or sobject is None:
            raise OutboundMessageError("a Notification lacks its Id or sObject")
        parsed.append({"id": value.Id, "sobject_type": _sobject_type(sobject), "fields": _fields(value.sObject)})
    return OutboundMessage(
        organization_id=result.OrganizationId, action_id=result.ActionId, session_id=result.SessionId,
        enterprise_url=result.EnterpriseUrl, partner_url=result.PartnerUrl, notifications=parsed,
    )


def parse(body: bytes, *, expected_org_id: str | None) -> tuple[str, list[dict]]:
    """(organization id, notifications) — the short form of `parse_message`."""
    message = parse_message(body, expected_org_id=expected_org_id)
    return message.organization_id, message.notifications


def ack_response(ack: bool = True) -> bytes:
    """The notificationsResponse envelope. Ack false (or no Ack) makes
    Salesforce retry the message later."""
    serialized = _operation().output.serialize(Ack=ack)
    return etree.tostring(serialized.content, xml_declaration=True, encoding="UTF-8")


ACK_CONTENT_TYPE = "text/xml; charset=utf-8"


def _sobject_type(element) -> str:
    declared = element.get(f"{{{facts.XSI_NS}}}type", "")
    return declared.split(":", 1)[-1] if declared else "Opportunity"


def _fields(sobject) -> dict:
    if sobject is None:
        return {}
    fields = {}
    for name in sobject:
        if name == "_raw_elements":
            continue
        value = sobject[name]
        if value is None or name == "fieldsToNull":
            continue
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        fields[name] = value
    for raw in getattr(sobject, "_raw_elements", None) or ():
        # A field outside the WSDL: keep its text under its local name.
        fields[etree.QName(raw).localname] = raw.text
    return fields

"""Writes for the Salesforce connector: Opportunity records (as the delta
query returns them) → the shared CRM upsert (`crm.services.deal_ingest`), the
one path both the sync and the push events (outbound messages, CDC-style
change events) converge on; and processing one stored push event.

Field map (Connection.field_map, validated by connections.rules):
  customer.<attr> ← "account.<Account field>" (TIN default Account.TIN__c);
  line.classification_code ← "line_item.<Product2 field>" (read through
      PricebookEntry.Product2, where orgs keep HS/service codes);
  invoice.note / invoice.buyer_reference ← "opportunity.<field>".
"""
from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils.dateparse import parse_date, parse_datetime

from integrations.connections.models import WebhookEvent
from integrations.connections.rules import field_map_read, trigger_rule_for
from integrations.crm.services import CustomerRecord, DealRecord, deal_ingest
from invoicing.canonical import Party

from .mapping import DEFAULT_FIELD_MAP, MappingConfig, opportunity_to_canonical
from .provider import SalesforceProvider
from .soql import ACCOUNT_FIELDS, OPPORTUNITY_FIELDS, DeltaQueryConfig


def _jsonable(value):
    """A query record as stored on Deal.raw: Decimals as strings (exact)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _sources(connection, obj: str) -> dict[str, str]:
    """{invoice field: property} of the field map entries reading `obj`."""
    out = {}
    for target, source in (connection.field_map or {}).items():
        o, _, prop = str(source).partition(".")
        if o == obj and prop:
            out[target] = prop
    return out


def mapping_config_for(connection) -> MappingConfig:
    rule = trigger_rule_for(connection, defaults=SalesforceProvider.default_trigger_rule())
    field_map = dict(DEFAULT_FIELD_MAP)
    for target, prop in _sources(connection, "account").items():
        attribute = target.partition(".")[2]
        if target.startswith("customer.") and attribute != "name":
            field_map[attribute] = prop
    classification = _sources(connection, "line_item").get("line.classification_code", "")
    return MappingConfig(field_map=field_map, default_currency=connection.organization.default_currency or "NGN",
                         tax_category=rule.tax_category, tax_rate=rule.tax_rate,
                         exemption_reason=rule.exemption_reason, classification_field=classification)


def delta_config_for(connection) -> DeltaQueryConfig:
    rule = trigger_rule_for(connection, defaults=SalesforceProvider.default_trigger_rule())
    mapping = mapping_config_for(connection)
    account_fields = [f for f in mapping.field_map.values() if f and f not in ACCOUNT_FIELDS]
    opportunity_fields = [f for f in _sources(connection, "opportunity").values() if f not in OPPORTUNITY_FIELDS]
    line_fields = ([f"PricebookEntry.Product2.{mapping.classification_field}"]
                   if mapping.classification_field else [])
    return DeltaQueryConfig(tin_field=mapping.field_map.get("tin") or "", extra_account_fields=tuple(account_fields),
                            extra_opportunity_fields=tuple(opportunity_fields), extra_line_fields=tuple(line_fields),
                            won_stages=tuple(rule.won_stages) or None,
                            multi_currency=bool((connection.settings or {}).get("multi_currency", True)))


def _objects(raw: dict) -> dict:
    return {"opportunity": raw, "account": raw.get("Account") or {}}


def deal_record_from_opportunity(record: dict, *, connection) -> DealRecord:
    raw = _jsonable(record)
    account = raw.get("Account")
    customer = None
    if account and account.get("Id"):
        party = _party(raw, connection)
        customer = CustomerRecord(
            external_id=f"account:{account['Id']}", name=party.name, tin=party.tin, email=party.email,
            telephone=party.telephone,
            address={"street_name": party.street_name, "city_name": party.city_name,
                     "postal_zone": party.postal_zone, "country": party.country},
            raw=account)
    close = raw.get("CloseDate")
    return DealRecord(
        external_id=raw["Id"], source_updated_at=parse_datetime(raw["SystemModstamp"]),
        name=raw.get("Name") or "", pipeline="", stage=raw.get("StageName") or "",
        amount=Decimal(raw["Amount"]) if raw.get("Amount") not in (None, "") else None,
        currency=(raw.get("CurrencyIsoCode") or "").upper(), close_date=parse_date(close) if close else None,
        deleted=bool(raw.get("IsDeleted")), customer=customer, raw=raw)


def _party(raw: dict, connection) -> Party:
    canonical = opportunity_to_canonical({**raw, "OpportunityLineItems": None, "Id": raw.get("Id", "")},
                                         supplier=Party(name=""), config=mapping_config_for(connection),
                                         issue_date=datetime.date.today())
    return canonical.customer or Party(name="")


def _supplier(org) -> Party:
    return Party(name=org.name, tin=org.tin, email=org.email, telephone=org.telephone, street_name=org.street_name,
                 city_name=org.city_name, postal_zone=org.postal_zone, country=org.country or "NG")


def canonical_for_deal(*, deal, connection, issue_fallback: datetime.date):
    raw = deal.raw or {}
    close = raw.get("CloseDate")
    canonical = opportunity_to_canonical(raw, supplier=_supplier(connection.organization),
                                         config=mapping_config_for(connection),
                                         issue_date=parse_date(close) if close else issue_fallback)
    objects = _objects(raw)
    fmap = connection.field_map or {}
    canonical.note = field_map_read(fmap, "invoice.note", objects) or canonical.note
    canonical.buyer_reference = field_map_read(fmap, "invoice.buyer_reference", objects) or ""
    return canonical


def opportunities_apply(*, connection, records: list[dict]) -> int:
    """Upsert query records (the sync's page, or a push event's re-read)."""
    for record in records:
        deal_ingest(connection=connection, record=deal_record_from_opportunity(record, connection=connection))
    return len(records)


def opportunities_fetch_and_apply(*, connection, ids: list[str]) -> int:
    """Re-read opportunities by id over REST (only those still won) and upsert
    them: a push event is a trigger, the record is read as it is now."""
    from .session import OrgApi
    from .soql import delta_query

    if not ids:
        return 0
    query = delta_query(since=None, ids=sorted(set(ids)), config=delta_config_for(connection))
    applied = 0
    with OrgApi(connection) as api:
        page = api.query_page(soql=query)
        while True:
            applied += opportunities_apply(connection=connection, records=page.get("records") or [])
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                break
            page = api.query_page(next_url=page["nextRecordsUrl"])
    return applied


def webhook_event_process(*, event: WebhookEvent) -> str:
    """The stored event's final status; raises on failures the task retries."""
    from .webhooks import event_opportunity_ids

    if event.connection_id is None or event.connection.status == "disconnected":
        return WebhookEvent.Status.IGNORED
    ids = event_opportunity_ids(event)
    if not ids:
        return WebhookEvent.Status.IGNORED
    opportunities_fetch_and_apply(connection=event.connection, ids=ids)
    return WebhookEvent.Status.PROCESSED

"""HubSpot deal bundle → DealRecord (for the CRM upsert) and → canonical invoice.

A *bundle* is what we store on Deal.raw: the deal, its line items and its
primary company and first contact, each as HubSpot returns them
(`{"id", "properties": {…strings…}, "updatedAt", "archived"}`).

Mapping rules:
- currency: `deal_currency_code`, else the organization's default (NGN);
- tax: the connection's trigger rule (default STANDARD_VAT 7.5 %);
- lines: one per line item (`name`, `quantity`, `price`); without line items,
  one line for the deal `amount`;
- discounts: `discount` is read as a per-unit amount and
  `hs_discount_percentage` as a percentage of the line (semantics UNCONFIRMED,
  VENDORS.md lists neither), both as line allowances;
- buyer: the primary company (else the contact), with the connection's field
  map filling TIN, address, etc. from custom properties;
- the vendor's tax (`hs_tax_amount` on every line) is kept as source figures
  and compared with ours by the invoicing core.
"""
from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

from integrations.connections.rules import field_map_read, trigger_rule_for
from integrations.crm.services import CustomerRecord, DealRecord
from invoicing.canonical import (INVOICE, AllowanceCharge, CanonicalInvoice, Line, Party, SourceFigures,
                                 SourceRef, STANDARD_VAT)

from .provider import HubSpotProvider

ZERO = Decimal("0")


def _dec(value, default=None) -> Decimal | None:
    if value in (None, ""):
        return default
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default


def _when(value) -> datetime.datetime | None:
    if not value:
        return None
    if isinstance(value, (int, float)) or str(value).isdigit():
        return datetime.datetime.fromtimestamp(int(value) / 1000, tz=datetime.timezone.utc)
    return parse_datetime(str(value).replace("Z", "+00:00"))


def _props(obj: dict | None) -> dict:
    return dict((obj or {}).get("properties") or {})


def deal_updated_at(deal: dict) -> datetime.datetime:
    props = _props(deal)
    return _when(props.get("hs_lastmodifieddate")) or _when(deal.get("updatedAt"))


def _customer_record(bundle: dict, field_map: dict) -> CustomerRecord | None:
    company, contact = bundle.get("company"), bundle.get("contact")
    source = company or contact
    if not source:
        return None
    party = party_from_bundle(bundle, field_map)
    prefix = "company" if company else "contact"
    props = _props(source)
    return CustomerRecord(
        external_id=f"{prefix}:{source['id']}", name=party.name, tin=party.tin, email=party.email,
        telephone=party.telephone,
        address={"street_name": party.street_name, "city_name": party.city_name,
                 "postal_zone": party.postal_zone, "country": party.country},
        source_updated_at=_when(props.get("hs_lastmodifieddate") or props.get("lastmodifieddate")),
        raw=source,
    )


def deal_record_from_bundle(bundle: dict, *, connection) -> DealRecord:
    deal = bundle["deal"]
    props = _props(deal)
    close = _when(props.get("closedate"))
    return DealRecord(
        external_id=str(deal["id"]),
        source_updated_at=deal_updated_at(deal),
        name=props.get("dealname") or "",
        pipeline=props.get("pipeline") or "",
        stage=props.get("dealstage") or "",
        amount=_dec(props.get("amount")),
        currency=(props.get("deal_currency_code") or "").upper(),
        close_date=close.date() if close else None,
        deleted=bool(bundle.get("deleted") or deal.get("archived")),
        customer=_customer_record(bundle, connection.field_map or {}),
        raw=bundle,
    )


def deleted_bundle(deal_id: str, occurred_ms: int) -> dict:
    """What a deal.deletion event tells us: the deal is gone as of that time."""
    ts = datetime.datetime.fromtimestamp(occurred_ms / 1000, tz=datetime.timezone.utc)
    return {"deal": {"id": deal_id, "properties": {"hs_lastmodifieddate": ts.isoformat()}, "archived": True},
            "deleted": True, "line_items": [], "company": None, "contact": None}


def _objects(bundle: dict) -> dict[str, dict]:
    return {"deal": _props(bundle.get("deal")), "company": _props(bundle.get("company")),
            "contact": _props(bundle.get("contact"))}


def party_from_bundle(bundle: dict, field_map: dict) -> Party:
    objects = _objects(bundle)
    company, contact = objects["company"], objects["contact"]
    contact_name = " ".join(p for p in (contact.get("firstname"), contact.get("lastname")) if p)
    party = Party(
        name=company.get("name") or contact_name or contact.get("email") or "",
        email=contact.get("email") or "",
        telephone=company.get("phone") or contact.get("phone") or "",
        street_name=", ".join(p for p in (company.get("address"), company.get("address2")) if p)
        or contact.get("address") or "",
        city_name=company.get("city") or contact.get("city") or "",
        postal_zone=company.get("zip") or contact.get("zip") or "",
        country=_country(company.get("country") or contact.get("country")),
    )
    for target in ("name", "tin", "email", "telephone", "street_name", "city_name", "postal_zone", "country"):
        value = field_map_read(field_map, f"customer.{target}", objects)
        if value is not None:
            setattr(party, target, _country(value) if target == "country" else value)
    return party


def _country(value) -> str:
    """ISO alpha-2 when HubSpot holds a code; the free-text names most often
    seen in Nigerian portals mapped; otherwise NG (our market)."""
    text = (value or "").strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return {"nigeria": "NG", "ghana": "GH", "united kingdom": "GB", "united states": "US"}.get(text.lower(), "NG")


def _lines(bundle: dict, *, rule, field_map: dict) -> list[Line]:
    lines = []
    deal_props = _props(bundle.get("deal"))
    for item in bundle.get("line_items") or []:
        props = _props(item)
        quantity = _dec(props.get("quantity"), Decimal("1"))
        price = _dec(props.get("price"), None)
        if price is None:
            amount = _dec(props.get("amount"), ZERO)
            price = (amount / quantity) if quantity else amount
        allowances = []
        unit_discount = _dec(props.get("discount"), ZERO)
        if unit_discount:
            allowances.append(AllowanceCharge(charge_indicator=False, amount=(unit_discount * quantity)
                                              .quantize(Decimal("0.01")), reason="Discount",
                                              tax_category=rule.tax_category, tax_rate=rule.tax_rate))
        pct = _dec(props.get("hs_discount_percentage"), ZERO)
        if pct:
            allowances.append(AllowanceCharge(charge_indicator=False, amount=(price * quantity * pct / 100)
                                              .quantize(Decimal("0.01")), reason=f"Discount {pct}%",
                                              tax_category=rule.tax_category, tax_rate=rule.tax_rate))
        objects = {"line_item": props, "line": props}
        lines.append(Line(
            description=(props.get("name") or props.get("description") or "Item")[:500],
            quantity=quantity, unit_price=price, tax_category=rule.tax_category, tax_rate=rule.tax_rate,
            item_code=field_map_read(field_map, "line.item_code", objects) or props.get("hs_sku")
            or props.get("hs_product_id") or "",
            classification_code=field_map_read(field_map, "line.classification_code", objects) or "",
            allowance_charges=allowances,
            exemption_reason=rule.exemption_reason if rule.tax_category != STANDARD_VAT else "",
        ))
    if not lines:
        amount = _dec(deal_props.get("amount"), ZERO)
        lines.append(Line(description=(deal_props.get("dealname") or "Deal")[:500], quantity=Decimal("1"),
                          unit_price=amount, tax_category=rule.tax_category, tax_rate=rule.tax_rate,
                          exemption_reason=rule.exemption_reason if rule.tax_category != STANDARD_VAT else ""))
    return lines


def _source_figures(bundle: dict) -> SourceFigures:
    items = bundle.get("line_items") or []
    taxes = [_dec(_props(i).get("hs_tax_amount")) for i in items]
    if items and all(t is not None for t in taxes):
        return SourceFigures(tax_amount=sum(taxes, ZERO))
    return SourceFigures()


def canonical_from_bundle(bundle: dict, *, connection, issue_fallback: datetime.date) -> CanonicalInvoice:
    org = connection.organization
    rule = trigger_rule_for(connection, defaults=HubSpotProvider.default_trigger_rule())
    field_map = connection.field_map or {}
    deal = bundle["deal"]
    props = _props(deal)
    close = _when(props.get("closedate"))
    customer = party_from_bundle(bundle, field_map) if (bundle.get("company") or bundle.get("contact")) else None
    objects = _objects(bundle)
    return CanonicalInvoice(
        kind=INVOICE,
        issue_date=close.date() if close else issue_fallback,
        currency=(props.get("deal_currency_code") or org.default_currency or "NGN").upper(),
        supplier=Party(name=org.name, tin=org.tin, email=org.email, telephone=org.telephone,
                       street_name=org.street_name, city_name=org.city_name, postal_zone=org.postal_zone,
                       country=org.country or "NG"),
        customer=customer,
        lines=_lines(bundle, rule=rule, field_map=field_map),
        source=SourceRef(system=HubSpotProvider.key, type="deal", id=str(deal["id"])),
        note=field_map_read(field_map, "invoice.note", objects) or (props.get("dealname") or ""),
        buyer_reference=field_map_read(field_map, "invoice.buyer_reference", objects) or "",
        source_figures=_source_figures(bundle),
    )


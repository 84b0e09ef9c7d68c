"""Salesforce Opportunity (with its OpportunityLineItems and Account, as the
delta query in `soql.py` returns them) → `invoicing.canonical.CanonicalInvoice`.

- Customer: the Account; which Account field holds what (TIN, phone, email,
  address) is the connection's `field_map`, the TIN defaulting to the custom
  field `TIN__c`. No Account → no customer (B2C).
- Lines: one per OpportunityLineItem. Salesforce's `Discount` is a percentage
  of Quantity × UnitPrice; it becomes a line allowance of that amount (2 dp,
  half-up, the way Salesforce rounds TotalPrice), so our line net equals the
  line's TotalPrice. An Opportunity without products becomes one line of its
  Amount.
- Tax: every line gets the configured category and rate (default
  STANDARD_VAT 7.5 %): Salesforce opportunities carry no tax.
- Currency: CurrencyIsoCode, else the org's default (NGN).
- Source figures (the comparison choice): Salesforce's standard `Amount` is the
  sum of the line TotalPrices — PRE-tax. Our payable amount includes VAT, so
  comparing it with Amount would flag every taxed invoice. Therefore Amount is
  given as `source_figures.payable_amount` only when the org's Amount is kept
  tax-inclusive (`MappingConfig.amount_includes_tax=True`, e.g. an org whose
  flow adds VAT lines or edits Amount to the gross). For the standard pre-tax
  Amount no source figure is set (canonical SourceFigures has no tax-exclusive
  figure to compare it with); `pre_tax_amount_mismatch()` reports the
  pre-tax disagreement instead.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import pycountry

from invoicing.canonical import (
    INVOICE,
    STANDARD_VAT,
    STANDARD_VAT_RATE,
    AllowanceCharge,
    CanonicalInvoice,
    Line,
    Party,
    SourceFigures,
    SourceRef,
)

CENT = Decimal("0.01")

# Party attribute → Account field. The TIN is a custom field in most orgs.
DEFAULT_FIELD_MAP = {
    "tin": "TIN__c",
    "email": "",
    "telephone": "Phone",
    "street_name": "BillingStreet",
    "city_name": "BillingCity",
    "postal_zone": "BillingPostalCode",
    "country": "BillingCountry",
}


@dataclass(frozen=True)
class MappingConfig:
    field_map: dict = field(default_factory=lambda: dict(DEFAULT_FIELD_MAP))
    default_currency: str = "NGN"
    tax_category: str = STANDARD_VAT
    tax_rate: Decimal = STANDARD_VAT_RATE
    exemption_reason: str = ""
    amount_includes_tax: bool = False
    # Product2 field (read through PricebookEntry.Product2) with the HS/ISIC code.
    classification_field: str = ""
    unit_code: str = "EA"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _country(value: str | None) -> str:
    if not value:
        return "NG"
    try:
        return pycountry.countries.lookup(value.strip()).alpha_2
    except LookupError:
        return value.strip()  # left as given: validation reports an unknown country


def _customer(account: dict | None, config: MappingConfig) -> Party | None:
    if not account:
        return None
    values = {}
    for attribute, source in config.field_map.items():
        if source:
            raw = account.get(source)
            values[attribute] = "" if raw is None else str(raw).strip()
    values["country"] = _country(values.get("country"))
    return Party(name=(account.get("Name") or "").strip(), **values)


def _product(line: dict) -> dict:
    entry = line.get("PricebookEntry") or {}
    return entry.get("Product2") or line.get("Product2") or {}


def _line(record: dict, config: MappingConfig) -> Line:
    product = _product(record)
    quantity = _decimal(record.get("Quantity")) or Decimal("1")
    unit_price = _decimal(record.get("UnitPrice")) or Decimal("0")
    discount = _decimal(record.get("Discount"))
    allowances = []
    if discount:
        amount = (quantity * unit_price * discount / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        allowances.append(AllowanceCharge(charge_indicator=False, amount=amount, reason=f"Discount {discount.normalize()}%",
                                          tax_category=config.tax_category, tax_rate=config.tax_rate))
    return Line(
        description=product.get("Name") or record.get("Description") or record.get("Name") or "",
        quantity=quantity,
        unit_price=unit_price,
        tax_category=config.tax_category,
        tax_rate=config.tax_rate,
        item_code=product.get("ProductCode") or record.get("ProductCode") or "",
        classification_code=str(product.get(config.classification_field) or "") if config.classification_field else "",
        unit_code=config.unit_code,
        allowance_charges=allowances,
        exemption_reason=config.exemption_reason,
    )


def opportunity_to_canonical(record: dict, *, supplier: Party, config: MappingConfig = MappingConfig(),
                             issue_date: datetime.date | None = None) -> CanonicalInvoice:
    """The canonical invoice for one won Opportunity record (a dict as the
    REST query returns it, numbers as Decimal or float)."""
    items = (record.get("OpportunityLineItems") or {}).get("records") or []
    if items:
        lines = [_line(item, config) for item in items]
    else:
        lines = [Line(description=record.get("Name") or "", quantity=Decimal("1"),
                      unit_price=_decimal(record.get("Amount")) or Decimal("0"), tax_category=config.tax_category,
                      tax_rate=config.tax_rate, unit_code=config.unit_code, exemption_reason=config.exemption_reason)]
    close_date = record.get("CloseDate")
    if issue_date is None:
        issue_date = datetime.date.fromisoformat(close_date) if isinstance(close_date, str) else close_date or datetime.date.today()
    amount = _decimal(record.get("Amount"))
    figures = SourceFigures(payable_amount=amount) if config.amount_includes_tax and amount is not None else SourceFigures()
    return CanonicalInvoice(
        kind=INVOICE,
        issue_date=issue_date,
        currency=record.get("CurrencyIsoCode") or config.default_currency,
        supplier=supplier,
        customer=_customer(record.get("Account"), config),
        lines=lines,
        source=SourceRef(system="salesforce", type="opportunity", id=record["Id"]),
        note=record.get("Name") or "",
        source_figures=figures,
    )


def pre_tax_amount_mismatch(record: dict, invoice: CanonicalInvoice) -> dict | None:
    """When Amount is pre-tax: compare it with our line nets after allowances.
    None when they agree within 0.01, else {"ours", "source", "difference"}."""
    amount = _decimal(record.get("Amount"))
    if amount is None:
        return None
    ours = sum(
        ((line.quantity * line.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
         - sum((a.amount for a in line.allowance_charges if not a.charge_indicator), Decimal("0"))
         + sum((a.amount for a in line.allowance_charges if a.charge_indicator), Decimal("0"))
         for line in invoice.lines),
        Decimal("0"),
    )
    if abs(ours - amount) <= CENT:
        return None
    return {"ours": str(ours), "source": str(amount), "difference": str(amount - ours)}

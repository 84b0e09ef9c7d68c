"""The SOQL TaxPoynt sends: the delta-sync query for won Opportunities with
their line items (product fields through PricebookEntry.Product2) and Account
fields (including the org's custom TIN field), and the literal formatting it
needs. Field names come from configuration, so each is checked against the
SOQL identifier shape before it is put in a query (no injection through a
field map).

Cursor: `SystemModstamp` (changes on every write, including system ones),
ordered by SystemModstamp then Id so paging is stable. Salesforce datetimes
have one-second precision, so a record written later in the same second as
the cursor would be missed by a strict `>`: pass `after_id` for an exact
keyset continuation while paging, and let the sync re-read a small overlap
(`since` minus a few seconds) between runs — invoice creation is idempotent
on the opportunity id, so re-reading is harmless.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")

OPPORTUNITY_FIELDS = ("Id", "Name", "StageName", "Amount", "CloseDate", "IsWon", "IsClosed", "AccountId",
                      "LastModifiedDate", "SystemModstamp")
ACCOUNT_FIELDS = ("Id", "Name", "BillingStreet", "BillingCity", "BillingPostalCode", "BillingCountry", "Phone")
LINE_FIELDS = ("Id", "Name", "Quantity", "UnitPrice", "TotalPrice", "Discount", "Description", "Product2Id",
               "PricebookEntry.Product2.Name", "PricebookEntry.Product2.ProductCode")


@dataclass(frozen=True)
class DeltaQueryConfig:
    tin_field: str = "TIN__c"  # custom Account field holding the buyer's TIN
    extra_account_fields: tuple[str, ...] = ()
    extra_opportunity_fields: tuple[str, ...] = ()
    extra_line_fields: tuple[str, ...] = ()  # e.g. "PricebookEntry.Product2.HS_Code__c"
    won_stages: tuple[str, ...] | None = None  # None: IsWon = true
    # Orgs without multi-currency have no CurrencyIsoCode field at all.
    multi_currency: bool = True


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name or ""):
        raise ValueError(f"not a SOQL field name: {name!r}")
    return name


def datetime_literal(value: datetime.datetime) -> str:
    """An unquoted SOQL datetime literal in UTC, e.g. 2024-05-01T00:00:00Z."""
    if value.tzinfo is None:
        raise ValueError("SOQL datetimes need a timezone; pass an aware datetime")
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_literal(value: datetime.date) -> str:
    return value.isoformat()


def string_literal(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{escaped}'"


def _unique(names):
    seen, out = set(), []
    for name in names:
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(identifier(name))
    return out


def delta_query(*, since: datetime.datetime | None, after_id: str | None = None,
                config: DeltaQueryConfig = DeltaQueryConfig(), limit: int | None = None,
                ids: list[str] | None = None) -> str:
    """SELECT … FROM Opportunity WHERE <won> [AND SystemModstamp > since]
    [AND Id IN (ids)] ORDER BY SystemModstamp, Id — with the line-item
    subquery and Account fields. `ids` re-reads the opportunities named by
    outbound-message notifications (still only if won)."""
    opportunity = list(OPPORTUNITY_FIELDS) + (["CurrencyIsoCode"] if config.multi_currency else [])
    opportunity += list(config.extra_opportunity_fields)
    account = [f"Account.{f}" for f in (*ACCOUNT_FIELDS, config.tin_field, *config.extra_account_fields) if f]
    lines = _unique([*LINE_FIELDS, *config.extra_line_fields])
    select = ", ".join(_unique(opportunity + account))
    subquery = f"(SELECT {', '.join(lines)} FROM OpportunityLineItems ORDER BY SortOrder, Id)"
    if config.won_stages:
        where = [f"StageName IN ({', '.join(string_literal(s) for s in config.won_stages)})"]
    else:
        where = ["IsWon = true"]
    if since is not None:
        stamp = datetime_literal(since)
        if after_id:
            where.append(f"(SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > {string_literal(after_id)}))")
        else:
            where.append(f"SystemModstamp > {stamp}")
    if ids:
        for record_id in ids:
            if not re.match(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$", record_id):
                raise ValueError(f"not a Salesforce id: {record_id!r}")
        where.append(f"Id IN ({', '.join(string_literal(i) for i in ids)})")
    soql = f"SELECT {select}, {subquery} FROM Opportunity WHERE {' AND '.join(where)} ORDER BY SystemModstamp, Id"
    if limit is not None:
        soql += f" LIMIT {int(limit)}"
    return soql

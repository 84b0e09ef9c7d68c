"""Per-connection trigger rules and field maps, vendor-neutral.

Trigger rule (stored in Connection.trigger_rule):
    {"won_stages": ["closedwon", "pipelineA:123"], "lost_stages": ["closedlost"],
     "tax_category": "STANDARD_VAT", "tax_rate": "7.5"}
A stage entry is either a bare stage id (matches in every pipeline) or
"<pipeline>:<stage>" (that pipeline only). Tax defaults to standard VAT 7.5 %.
A provider whose objects have no stages (a POS sale) leaves the stages out
(`Provider.trigger_rule_parts`); one whose sales carry amounts outside VAT
(a POS sale's tips and non-VAT levies) has the "outside_vat" part:
    {"tips": "exclude", "levies": "charge"}
each left off the invoice ("exclude") or kept as a zero-rated charge ("charge").

Field map (Connection.field_map): invoice field → "<object>.<property>", e.g.
    {"customer.tin": "company.tin_number", "line.classification_code": "line_item.hs_code"}
    {"customer.tin": "metadata.buyer_tin"}   (a Square order's metadata key)
the one format of every provider, written by `field_map_validate` and read
by `field_map_read`. The objects a provider may read come from
`Provider.field_map_sources`, the invoice fields it fills from
`Provider.field_map_targets`.
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation

from invoicing.canonical import EXEMPTED, STANDARD_VAT, STANDARD_VAT_RATE, ZERO_VAT
from taxpoynt.errors import ApplicationError

TAX_CATEGORIES = (STANDARD_VAT, ZERO_VAT, EXEMPTED)

# The invoice fields a field map may fill.
MAPPABLE_FIELDS = {
    "customer.name": "Customer name",
    "customer.tin": "Customer TIN",
    "customer.email": "Customer email",
    "customer.telephone": "Customer telephone",
    "customer.street_name": "Customer street",
    "customer.city_name": "Customer city",
    "customer.postal_zone": "Customer postal code",
    "customer.country": "Customer country (ISO 3166 alpha-2)",
    "invoice.note": "Invoice note",
    "invoice.buyer_reference": "Buyer reference (PO number)",
    "line.classification_code": "Line HS / service code",
    "line.item_code": "Line item code",
}


def mappable_fields(targets: tuple[str, ...] | None = None) -> dict[str, str]:
    """{invoice field: label} of those a provider fills (`Provider.field_map_targets`)."""
    if targets is None:
        return dict(MAPPABLE_FIELDS)
    return {target: MAPPABLE_FIELDS[target] for target in targets}


@dataclasses.dataclass(frozen=True)
class TriggerRule:
    won_stages: tuple[str, ...]
    lost_stages: tuple[str, ...]
    tax_category: str = STANDARD_VAT
    tax_rate: Decimal = STANDARD_VAT_RATE
    exemption_reason: str = ""
    tips: str = "exclude"
    levies: str = "exclude"

    @staticmethod
    def _matches(entries, pipeline: str, stage: str) -> bool:
        return stage in entries or f"{pipeline}:{stage}" in entries

    def is_won(self, *, pipeline: str, stage: str) -> bool:
        return self._matches(self.won_stages, pipeline, stage)

    def is_lost(self, *, pipeline: str, stage: str) -> bool:
        return self._matches(self.lost_stages, pipeline, stage)


def _as_list(value, name, errors) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.replace("\n", ",").split(",")]
    if not isinstance(value, (list, tuple)):
        errors[name] = ["A list of stage ids."]
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())


RULE_PARTS = ("stages", "tax")
# The "outside_vat" part's fields and their treatments (the module docstring).
OUTSIDE_VAT_FIELDS = ("tips", "levies")
OUTSIDE_VAT_TREATMENTS = ("exclude", "charge")


def trigger_rule_validate(data: dict, *, defaults: dict, parts: tuple[str, ...] = RULE_PARTS) -> dict:
    """The cleaned rule dict, or ApplicationError(code="invalid_rule") with
    per-field errors in `.extra`. `parts`: the provider's
    `trigger_rule_parts`; without "stages" the rule has none."""
    merged = {**defaults, **(data or {})}
    errors: dict[str, list[str]] = {}
    stages = {}
    if "stages" in parts:
        won = _as_list(merged.get("won_stages", ()), "won_stages", errors)
        lost = _as_list(merged.get("lost_stages", ()), "lost_stages", errors)
        if not won and "won_stages" not in errors:
            errors["won_stages"] = ["At least one stage must count as won."]
        if set(won) & set(lost):
            errors["lost_stages"] = [
                f"A stage cannot be both won and lost: {', '.join(sorted(set(won) & set(lost)))}."]
        stages = {"won_stages": list(won), "lost_stages": list(lost)}
    category = merged.get("tax_category", STANDARD_VAT)
    if category not in TAX_CATEGORIES:
        errors["tax_category"] = [f"One of {', '.join(TAX_CATEGORIES)}."]
    try:
        rate = Decimal(str(merged.get("tax_rate", STANDARD_VAT_RATE)))
        if rate < 0 or rate > 100:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["tax_rate"] = ["A percentage between 0 and 100."]
        rate = STANDARD_VAT_RATE
    if category == STANDARD_VAT and "tax_rate" not in errors and rate == 0:
        errors["tax_rate"] = ["Standard VAT needs a rate above zero; use ZERO_VAT for zero-rated sales."]
    reason = str(merged.get("exemption_reason", "")).strip()
    if category in (ZERO_VAT, EXEMPTED) and not reason:
        errors["exemption_reason"] = ["Required for zero-rated or exempt sales."]
    outside_vat = {}
    if "outside_vat" in parts:
        for name in OUTSIDE_VAT_FIELDS:
            outside_vat[name] = str(merged.get(name, "exclude"))
            if outside_vat[name] not in OUTSIDE_VAT_TREATMENTS:
                errors[name] = [f"One of {', '.join(OUTSIDE_VAT_TREATMENTS)}."]
    if errors:
        raise ApplicationError("The trigger rule is invalid.", extra=errors, code="invalid_rule")
    return {**stages, **outside_vat, "tax_category": category,
            "tax_rate": str(rate if category == STANDARD_VAT else Decimal("0")), "exemption_reason": reason}


def trigger_rule_for(connection, *, defaults: dict) -> TriggerRule:
    data = {**defaults, **(connection.trigger_rule or {})}
    category = data.get("tax_category", STANDARD_VAT)
    return TriggerRule(
        won_stages=tuple(data.get("won_stages", ())),
        lost_stages=tuple(data.get("lost_stages", ())),
        tax_category=category,
        tax_rate=Decimal(str(data.get("tax_rate", STANDARD_VAT_RATE if category == STANDARD_VAT else 0))),
        exemption_reason=data.get("exemption_reason", ""),
        tips=data.get("tips", "exclude"),
        levies=data.get("levies", "exclude"),
    )


def field_map_validate(data: dict, *, sources: tuple[str, ...], targets: tuple[str, ...] | None = None) -> dict:
    """The cleaned field map, or ApplicationError(code="invalid_field_map").
    `targets`: the invoice fields the provider fills (None: all of
    MAPPABLE_FIELDS)."""
    if not isinstance(data, dict):
        raise ApplicationError("The field map must be an object.", code="invalid_field_map")
    errors: dict[str, list[str]] = {}
    cleaned = {}
    allowed = mappable_fields(targets)
    for target, source in data.items():
        target = str(target).strip()
        source = str(source or "").strip()
        if not source:
            continue
        if target not in allowed:
            errors[target] = [f"Not a mappable invoice field; choose from {', '.join(allowed)}."]
            continue
        obj, dot, prop = source.partition(".")
        if not dot or not prop or obj not in sources:
            errors[target] = [f"Write it as <object>.<property>, object one of {', '.join(sources)}."]
            continue
        if target.startswith("line.") and obj not in ("line_item", "line"):
            errors[target] = ["Line fields read from line-item properties (line_item.<property>)."]
            continue
        cleaned[target] = f"{obj}.{prop}"
    if errors:
        raise ApplicationError("The field map is invalid.", extra=errors, code="invalid_field_map")
    return cleaned


def field_map_read(field_map: dict, target: str, objects: dict[str, dict]) -> str | None:
    """The mapped value for `target` from `objects` ({"deal": props, …}), or None."""
    source = (field_map or {}).get(target)
    if not source:
        return None
    obj, _, prop = source.partition(".")
    value = (objects.get(obj) or {}).get(prop)
    if value in (None, ""):
        return None
    return str(value).strip()

"""POST /crm/objects/{version}/{type}/search (and legacy /crm/v3/objects/{type}/search): HubSpot's CRM search.

filterGroups are ORed, the filters inside a group ANDed; at most 5 groups, 25
filters, 10 per group (HubSpot changelog, Aug 2024). Comparisons follow the
property's type: numbers as decimals, datetimes as epoch ms (filter values may
be ms or ISO text), everything else as case-insensitive text. Results default
to creation order; `after` is an offset and may not reach 10,000. A filter on a
property the portal does not have matches nothing (our reading; UNCONFIRMED).
"""
import fnmatch
from decimal import Decimal, InvalidOperation

from . import facts
from .crm import object_type, render
from .responses import json_response, read_json, validation_error
from .store import parse_ms


def search(sb, request, otype: str):
    otype = object_type(otype)
    body = read_json(request)
    groups = body.get("filterGroups") or []
    _check_limits(groups)
    limit = _int(body.get("limit"), facts.SEARCH_LIMIT_DEFAULT, "limit")
    if not 0 <= limit <= facts.SEARCH_LIMIT_MAX:
        raise validation_error(f"limit must be between 0 and {facts.SEARCH_LIMIT_MAX}")
    offset = _int(body.get("after"), 0, "after")
    if offset < 0:
        raise validation_error("after must not be negative")
    if offset >= facts.SEARCH_RESULT_CAP:
        raise validation_error(
            f"The search API returns at most {facts.SEARCH_RESULT_CAP} results per query; "
            f"narrow the query (e.g. with a hs_lastmodifieddate filter) to page further.",
            subCategory="SEARCH_RESULT_WINDOW_EXCEEDED")
    sorts = _parse_sorts(body.get("sorts") or [])
    props = body.get("properties") or []
    query = (body.get("query") or "").strip().lower()
    with sb.store.lock:
        types = sb.store.property_types(otype)
        rows = [o for o in sb.store.live(otype)
                if (not groups or any(_group_matches(o, g, types) for g in groups))
                and (not query or _query_matches(o, query))]
        for name, descending in reversed(sorts):
            present = [o for o in rows if o.properties.get(name) not in (None, "")]
            absent = [o for o in rows if o.properties.get(name) in (None, "")]
            present.sort(key=lambda o: _sort_key(o.properties[name], types.get(name)), reverse=descending)
            rows = present + absent
        total = len(rows)
        page = rows[offset:offset + limit]
        out = {"total": total, "results": [render(sb, o, properties=props) for o in page]}
    if offset + limit < total:
        out["paging"] = {"next": {"after": str(offset + limit)}}
    return json_response(out)


def _int(value, default, name) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise validation_error(f"Invalid value for {name}: {value}") from None


def _check_limits(groups):
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list")
    if len(groups) > facts.SEARCH_MAX_GROUPS:
        raise validation_error(f"Too many filter groups ({len(groups)}). The maximum number of filter groups "
                               f"is {facts.SEARCH_MAX_GROUPS}.", subCategory="TOO_MANY_FILTER_GROUPS")
    total = 0
    for group in groups:
        filters = (group or {}).get("filters") or []
        if len(filters) > facts.SEARCH_MAX_FILTERS_PER_GROUP:
            raise validation_error(f"Too many filters in a filter group ({len(filters)}). The maximum is "
                                   f"{facts.SEARCH_MAX_FILTERS_PER_GROUP} per group.",
                                   subCategory="TOO_MANY_FILTERS_IN_GROUP")
        total += len(filters)
        for f in filters:
            if f.get("operator", "EQ") not in facts.SEARCH_OPERATORS:
                raise validation_error(f"Invalid operator: {f.get('operator')}")
            if not f.get("propertyName"):
                raise validation_error("Each filter needs a propertyName")
    if total > facts.SEARCH_MAX_FILTERS:
        raise validation_error(f"Too many filters ({total}). The maximum number of filters across all filter "
                               f"groups is {facts.SEARCH_MAX_FILTERS}.", subCategory="TOO_MANY_FILTERS")


def _parse_sorts(sorts) -> list[tuple[str, bool]]:
    out = []
    for s in sorts:
        if isinstance(s, str):  # "createdate" or "-createdate"
            out.append((s.lstrip("-"), s.startswith("-")))
        elif isinstance(s, dict) and s.get("propertyName"):
            out.append((s["propertyName"], str(s.get("direction", "ASCENDING")).upper() == "DESCENDING"))
        else:
            raise validation_error(f"Invalid sort: {s!r}")
    return out


def _typed(value, ptype):
    if value is None:
        return None
    if ptype == "number":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    if ptype in ("datetime", "date"):
        return parse_ms(value)
    return str(value).lower()


def _sort_key(value, ptype):
    typed = _typed(value, ptype)
    return (0, typed) if typed is not None else (1, 0)


def _group_matches(obj, group, types) -> bool:
    return all(_filter_matches(obj, f, types) for f in (group or {}).get("filters") or [])


def _filter_matches(obj, f, types) -> bool:
    name, op = f["propertyName"], f.get("operator", "EQ")
    ptype = types.get(name)
    raw = obj.properties.get(name) if ptype else None
    has = raw not in (None, "")
    if op == "HAS_PROPERTY":
        return has
    if op == "NOT_HAS_PROPERTY":
        return not has
    if op in ("NEQ", "NOT_IN") and not has:
        return True
    if not has:
        return False
    actual = _typed(raw, ptype)
    if op in ("IN", "NOT_IN"):
        wanted = {_typed(v, ptype) for v in f.get("values") or []}
        return (actual in wanted) == (op == "IN")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(f.get("value", "")).lower()
        text = str(raw).lower()
        hit = any(fnmatch.fnmatchcase(tok, pattern) for tok in text.replace("@", " ").split()) or \
            fnmatch.fnmatchcase(text, pattern)
        return hit == (op == "CONTAINS_TOKEN")
    value = _typed(f.get("value"), ptype)
    if value is None:
        return False
    try:
        if op == "EQ":
            return actual == value
        if op == "NEQ":
            return actual != value
        if op == "LT":
            return actual < value
        if op == "LTE":
            return actual <= value
        if op == "GT":
            return actual > value
        if op == "GTE":
            return actual >= value
        if op == "BETWEEN":
            high = _typed(f.get("highValue"), ptype)
            return high is not None and value <= actual <= high
    except TypeError:
        return False
    return False


def _query_matches(obj, query: str) -> bool:
    return any(query in str(v).lower() for v in obj.properties.values() if v)

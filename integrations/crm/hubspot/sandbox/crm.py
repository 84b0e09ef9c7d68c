"""CRM objects, pipelines and associations, in HubSpot's JSON shapes.

Served at each date version v in facts.CRM_API_VERSIONS and at the legacy
semantic paths (v3 objects and pipelines, v4 associations), one handler each:

GET   /crm/objects/{v}/{type}?limit&after&properties&associations&archived      (/crm/v3/objects/{type})
GET   /crm/objects/{v}/{type}/{id}?properties&associations&archived
POST  /crm/objects/{v}/{type}                 {"properties": {…}}   (create)
PATCH /crm/objects/{v}/{type}/{id}            {"properties": {…}}
POST  /crm/objects/{v}/{type}/batch/read      {"inputs": [{"id"}], "properties": […]}
GET   /crm/pipelines/{v}/deals[/{pipelineId}]                                    (/crm/v3/pipelines/…)
POST  /crm/associations/{v}/{from}/{to}/batch/read   {"inputs": [{"id", "after"?}]}   (/crm/v4/associations/…)
GET   /crm/objects/{v}/{from}/{id}/associations/{to}?limit&after                 (/crm/v4/objects/…)

{type} is deals, line_items, companies or contacts (or its id, e.g. 0-3).
Property values are always strings; timestamps are ISO 8601 with ms and 'Z'.
Association reads page each input's `to` list (store.association_page_size):
a result carries paging.next.after while its id has more.
"""
import json
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from . import facts
from .responses import HubSpotError, json_response, not_found, read_json, validation_error
from .store import iso_ms, parse_ms

_BY_TYPE_ID = {v: k for k, v in facts.OBJECT_TYPE_IDS.items()}
_ALIASES = {"deal": "deals", "line_item": "line_items", "lineitems": "line_items", "company": "companies",
            "contact": "contacts"}


def object_type(name: str) -> str:
    name = _BY_TYPE_ID.get(name, _ALIASES.get(name.lower(), name.lower()))
    if name not in facts.OBJECT_TYPES:
        raise HubSpotError(400, f"Unable to infer object type from: {name}", category="VALIDATION_ERROR")
    return name


def multi(request, key: str) -> list[str]:
    """Query lists arrive repeated (SDK "multi" format) or comma-separated."""
    values = []
    for raw in request.args.getlist(key):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def render(sb, obj, *, properties: list[str] | None, associations: list[str] = ()) -> dict:
    if properties:
        # Names the portal does not define are left out, as HubSpot does.
        known = sb.store.property_types(obj.type)
        names = [n for n in dict.fromkeys([*properties, *facts.ALWAYS_PROPERTIES[obj.type]]) if n in known]
    else:
        names = facts.DEFAULT_PROPERTIES[obj.type]
    out = {
        "id": obj.id,
        "properties": {n: obj.properties.get(n) for n in names},
        "createdAt": iso_ms(obj.created_ms),
        "updatedAt": iso_ms(obj.updated_ms),
        "archived": obj.archived,
    }
    if obj.archived:
        out["archivedAt"] = iso_ms(obj.archived_ms)
    assoc = {}
    for raw in associations:
        try:
            to_type = object_type(raw)
        except HubSpotError:
            continue
        results = []
        for to_id, type_ids in sb.store.associated(obj.type, obj.id, to_type).items():
            for type_id in type_ids:
                results.append({"id": to_id, "type": _v3_type_name(obj.type, to_type, type_id)})
        if results:
            # Keyed by the plural name as HubSpot does ("line items" → line_items).
            assoc[to_type] = {"results": results}
    if assoc:
        out["associations"] = assoc
    return out


def _v3_type_name(from_type, to_type, type_id) -> str:
    primary = facts.PRIMARY_ASSOCIATION_TYPES.get((from_type, to_type))
    if primary and primary[0] == type_id:
        return primary[2]
    return facts.ASSOCIATION_TYPES[(from_type, to_type)][2]


def _bool_arg(request, key) -> bool:
    return (request.args.get(key) or "false").lower() == "true"


def _int_arg(request, key, default) -> int:
    raw = request.args.get(key)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise validation_error(f"Invalid value for query parameter {key}: {raw}") from None


def list_objects(sb, request, otype: str):
    otype = object_type(otype)
    limit = _int_arg(request, "limit", facts.LIST_LIMIT_DEFAULT)
    if not 1 <= limit <= facts.LIST_LIMIT_MAX:
        raise validation_error(f"limit must be between 1 and {facts.LIST_LIMIT_MAX}")
    after = request.args.get("after") or None
    archived = _bool_arg(request, "archived")
    props, assocs = multi(request, "properties"), multi(request, "associations")
    with sb.store.lock:
        rows = sorted((o for o in sb.store.objects[otype].values() if o.archived == archived), key=lambda o: int(o.id))
        if after is not None:
            if not after.isdigit():
                raise validation_error(f"Invalid value for after: {after}")
            rows = [o for o in rows if int(o.id) >= int(after)]
        page, rest = rows[:limit], rows[limit:]
        body = {"results": [render(sb, o, properties=props, associations=assocs) for o in page]}
    if rest:
        query = [("after", rest[0].id), ("limit", str(limit))]
        query += [("properties", p) for p in props] + [("associations", a) for a in assocs]
        if archived:
            query.append(("archived", "true"))
        link = sb.url(f"{request.path}?{urlencode(query)}")  # the family (version) the caller used
        body["paging"] = {"next": {"after": rest[0].id, "link": link}}
    return json_response(body)


def get_object(sb, request, otype: str, oid: str):
    otype = object_type(otype)
    if request.args.get("idProperty"):
        raise validation_error("idProperty lookups are not supported by the sandbox")
    with sb.store.lock:
        obj = sb.store.get(otype, oid, archived=_bool_arg(request, "archived"))
        if obj is None:
            raise not_found()
        return json_response(render(sb, obj, properties=multi(request, "properties"),
                                    associations=multi(request, "associations")))


def validate_properties(sb, otype: str, properties) -> dict:
    if not isinstance(properties, dict):
        raise validation_error("Invalid input JSON: properties must be an object")
    types = sb.store.property_types(otype)
    problems = []
    clean = {}
    for name, value in properties.items():
        value = None if value is None else str(value)
        ptype = types.get(name)
        if ptype is None:
            problems.append(_prop_problem(name, value, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
        elif name in facts.READ_ONLY or name in facts.CALCULATED.get(otype, ()):
            problems.append(_prop_problem(name, value, "READ_ONLY_VALUE", f"{name} is a read only property"))
        elif value not in (None, "") and ptype == "number" and not _is_number(value):
            problems.append(_prop_problem(name, value, "INVALID_INTEGER" if "." not in value else "INVALID_DECIMAL",
                                          f"{value} was not a valid number"))
        elif value not in (None, "") and ptype in ("datetime", "date") and parse_ms(value) is None:
            problems.append(_prop_problem(name, value, "INVALID_DATE", f"{value} was not a valid date"))
        elif otype == "deals" and name == "dealstage" and value and value not in sb.store.stage_ids():
            problems.append(_prop_problem(name, value, "INVALID_OPTION",
                                          f"{value} was not one of the allowed options"))
        else:
            clean[name] = value
    if problems:
        raise validation_error(f"Property values were not valid: {json.dumps(problems)}")
    return clean


def _is_number(value: str) -> bool:
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _prop_problem(name, value, error, message) -> dict:
    return {"isValid": False, "message": message, "error": error, "name": name, "propertyValue": value}


def update_object(sb, request, otype: str, oid: str):
    otype = object_type(otype)
    body = read_json(request)
    with sb.store.lock:
        obj = sb.store.get(otype, oid)
        if obj is None:
            raise not_found()
        clean = validate_properties(sb, otype, body.get("properties", {}))
        changed = sb.store.update(obj, clean)
        sb.object_changed(obj, changed, source="INTEGRATION")
        return json_response(render(sb, obj, properties=list(clean)))


def create_object(sb, request, otype: str):
    otype = object_type(otype)
    body = read_json(request)
    with sb.store.lock:
        clean = validate_properties(sb, otype, body.get("properties", {}))
        obj = sb.store.create(otype, clean)
        for assoc in body.get("associations") or []:
            to = assoc.get("to", {}).get("id")
            for spec in assoc.get("types") or []:
                to_type = _type_for_type_id(otype, spec.get("associationTypeId"))
                if to_type and sb.store.get(to_type, to):
                    sb.store.associate(otype, obj.id, to_type, to)
        sb.object_created(obj, source="INTEGRATION")
        return json_response(render(sb, obj, properties=list(clean)), status=201)


def _type_for_type_id(from_type, type_id):
    for (a, b), spec in (*facts.ASSOCIATION_TYPES.items(), *facts.PRIMARY_ASSOCIATION_TYPES.items()):
        if a == from_type and spec[0] == type_id:
            return b
    return None


def batch_read(sb, request, otype: str):
    otype = object_type(otype)
    body = read_json(request)
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("Invalid input JSON: inputs is required")
    if len(inputs) > facts.BATCH_READ_MAX:
        raise validation_error(f"Batch input cannot exceed {facts.BATCH_READ_MAX} inputs")
    if body.get("idProperty"):
        raise validation_error("idProperty lookups are not supported by the sandbox")
    props = body.get("properties") or []
    started = _now_iso()
    results, missing = [], []
    with sb.store.lock:
        for item in inputs:
            oid = str((item or {}).get("id", ""))
            obj = sb.store.get(otype, oid, archived=bool(body.get("archived")))
            if obj is None:
                missing.append(oid)
            else:
                results.append(render(sb, obj, properties=props))
    out = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now_iso()}
    if missing:
        out["numErrors"] = 1
        out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                          "message": f"Could not get some {facts.SINGULAR[otype].upper()} objects, they may be "
                                     f"deleted or not exist. Check that ids are valid.",
                          "context": {"ids": missing}}]
        return json_response(out, status=207)
    return json_response(out)


def pipelines(sb, request, otype: str, pipeline_id: str | None = None):
    if object_type(otype) != "deals":
        raise not_found("pipelines are only served for deals in the sandbox")
    rows = [p for p in sb.store.pipelines if pipeline_id in (None, p["id"])]
    if pipeline_id is not None:
        if not rows:
            raise not_found()
        return json_response(rows[0])
    return json_response({"results": rows})


def _assoc_types(from_type, to_type, type_ids) -> list[dict]:
    out = []
    for type_id in type_ids:
        primary = facts.PRIMARY_ASSOCIATION_TYPES.get((from_type, to_type))
        label = primary[1] if primary and primary[0] == type_id else None
        out.append({"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label})
    return out


def _association_page(sb, from_type, oid, to_type, after, limit):
    """One page of the live links of from_type `oid` to `to_type`, in id order,
    from the cursor `after` (the first to-id of the page): ([(to_id, typeIds)], next cursor or None)."""
    if after not in (None, "") and not str(after).isdigit():
        raise validation_error(f"Invalid value for after: {after}")
    links = list(sb.store.associated(from_type, oid, to_type).items())
    if after not in (None, ""):
        links = [pair for pair in links if int(pair[0]) >= int(after)]
    page, rest = links[:limit], links[limit:]
    return page, (rest[0][0] if rest else None)


def _associations_link(request, from_type, oid, to_type, after) -> str:
    """The paging link HubSpot adds (deprecated, 'should be ignored'): the
    single-object read of the same family the caller used."""
    parts = request.path.split("/")  # /crm/associations/{v}/… or /crm/v4/associations/…
    prefix = "/crm/v4/objects" if parts[2] == "v4" else f"/crm/objects/{parts[3]}"
    return f"{prefix}/{from_type}/{oid}/associations/{to_type}?after={after}"


def associations_batch_read(sb, request, from_type: str, to_type: str):
    from_type, to_type = object_type(from_type), object_type(to_type)
    if (from_type, to_type) not in facts.ASSOCIATION_TYPES:
        raise validation_error(f"No association definitions between {from_type} and {to_type}")
    body = read_json(request)
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("Invalid input JSON: inputs is required")
    if len(inputs) > facts.ASSOCIATIONS_BATCH_INPUTS_MAX:
        raise validation_error(f"Batch input cannot exceed {facts.ASSOCIATIONS_BATCH_INPUTS_MAX} inputs")
    started = _now_iso()
    results, errors = [], []
    with sb.store.lock:
        for item in inputs:
            oid = str((item or {}).get("id", ""))
            page, nxt = ([], None)
            if sb.store.get(from_type, oid):
                page, nxt = _association_page(sb, from_type, oid, to_type, (item or {}).get("after"),
                                              sb.store.association_page_size)
            if not page:
                errors.append({
                    "status": "error", "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {facts.SINGULAR[to_type]} is associated with {facts.SINGULAR[from_type]} {oid}.",
                    "context": {"fromObjectId": [oid]}, "errors": [],
                })
                continue
            result = {
                "from": {"id": oid},
                "to": [{"toObjectId": int(to_id), "associationTypes": _assoc_types(from_type, to_type, type_ids)}
                       for to_id, type_ids in page],
            }
            if nxt is not None:  # present only while there are more pages
                result["paging"] = {"next": {"after": nxt, "link": sb.url(
                    _associations_link(request, from_type, oid, to_type, nxt))}}
            results.append(result)
    out = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now_iso()}
    if errors:
        out["numErrors"] = len(errors)
        out["errors"] = errors
        return json_response(out, status=207)
    return json_response(out)


def associations_list(sb, request, from_type: str, oid: str, to_type: str):
    from_type, to_type = object_type(from_type), object_type(to_type)
    limit = _int_arg(request, "limit", sb.store.association_page_size)
    with sb.store.lock:
        if sb.store.get(from_type, oid) is None:
            raise not_found()
        page, nxt = _association_page(sb, from_type, oid, to_type, request.args.get("after"), limit)
    body = {"results": [{"toObjectId": int(tid), "associationTypes": _assoc_types(from_type, to_type, types)}
                        for tid, types in page]}
    if nxt is not None:
        body["paging"] = {"next": {"after": nxt, "link": sb.url(f"{request.path}?after={nxt}&limit={limit}")}}
    return json_response(body)


def _now_iso() -> str:
    now = datetime.now(timezone.utc)
    return iso_ms(int(now.timestamp() * 1000))

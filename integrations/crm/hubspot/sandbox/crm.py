"""CRM v3 objects, pipelines and v4 associations, in HubSpot's JSON shapes.

GET   /crm/v3/objects/{type}?limit&after&properties&associations&archived
GET   /crm/v3/objects/{type}/{id}?properties&associations&archived
POST  /crm/v3/objects/{type}                 {"properties": {…}}   (create)
PATCH /crm/v3/objects/{type}/{id}            {"properties": {…}}
POST  /crm/v3/objects/{type}/batch/read      {"inputs": [{"id"}], "properties": […]}
GET   /crm/v3/pipelines/deals[/{pipelineId}]
POST  /crm/v4/associations/{from}/{to}/batch/read   {"inputs": [{"id"}]}
GET   /crm/v4/objects/{from}/{id}/associations/{to}

{type} is deals, line_items, companies or contacts (or its id, e.g. 0-3).
Property values are always strings; timestamps are ISO 8601 with ms and 'Z'.
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
        link = sb.url(f"/crm/v3/objects/{otype}?{urlencode(query)}")
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


def associations_batch_read(sb, request, from_type: str, to_type: str):
    from_type, to_type = object_type(from_type), object_type(to_type)
    if (from_type, to_type) not in facts.ASSOCIATION_TYPES:
        raise validation_error(f"No association definitions between {from_type} and {to_type}")
    body = read_json(request)
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("Invalid input JSON: inputs is required")
    if len(inputs) > 1000:
        raise validation_error("Batch input cannot exceed 1000 inputs")
    started = _now_iso()
    results, errors = [], []
    with sb.store.lock:
        for item in inputs:
            oid = str((item or {}).get("id", ""))
            links = sb.store.associated(from_type, oid, to_type) if sb.store.get(from_type, oid) else {}
            if not links:
                errors.append({
                    "status": "error", "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {facts.SINGULAR[to_type]} is associated with {facts.SINGULAR[from_type]} {oid}.",
                    "context": {"fromObjectId": [oid]}, "errors": [],
                })
                continue
            results.append({
                "from": {"id": oid},
                "to": [{"toObjectId": int(to_id), "associationTypes": _assoc_types(from_type, to_type, type_ids)}
                       for to_id, type_ids in links.items()],
            })
    out = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now_iso()}
    if errors:
        out["numErrors"] = len(errors)
        out["errors"] = errors
        return json_response(out, status=207)
    return json_response(out)


def associations_list(sb, request, from_type: str, oid: str, to_type: str):
    from_type, to_type = object_type(from_type), object_type(to_type)
    limit = _int_arg(request, "limit", 500)
    after = request.args.get("after")
    with sb.store.lock:
        if sb.store.get(from_type, oid) is None:
            raise not_found()
        links = list(sb.store.associated(from_type, oid, to_type).items())
    if after:
        links = [pair for pair in links if int(pair[0]) >= int(after)]
    page, rest = links[:limit], links[limit:]
    body = {"results": [{"toObjectId": int(tid), "associationTypes": _assoc_types(from_type, to_type, types)}
                        for tid, types in page]}
    if rest:
        body["paging"] = {"next": {"after": rest[0][0], "link": sb.url(
            f"/crm/v4/objects/{from_type}/{oid}/associations/{to_type}?after={rest[0][0]}&limit={limit}")}}
    return json_response(body)


def _now_iso() -> str:
    now = datetime.now(timezone.utc)
    return iso_ms(int(now.timestamp() * 1000))

"""The SOQL subset the Salesforce sandbox understands: a lark grammar, the
parsed query as plain dataclasses, and its evaluation over the sandbox's
in-memory records.

Supported (what the TaxPoynt sync and simple-salesforce send):
  SELECT field, Parent.Field, Parent.Parent.Field, (SELECT … FROM ChildRelationship
  [WHERE …] [ORDER BY …] [LIMIT n]) FROM Object
  [WHERE cond] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], …] [LIMIT n] [OFFSET n]
where cond has AND / OR / NOT / parentheses and =, !=, <>, <, <=, >, >=, IN,
NOT IN, LIKE, with string, number, true/false, null, unquoted date
(2024-05-01) and datetime (2024-05-01T00:00:00Z, …+0000, …+01:00) literals.

Field names are case-insensitive (as in Salesforce); text `=` and LIKE are
case-insensitive too. Errors raise `SoqlError(error_code, message)` with
Salesforce's codes: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cmp_to_key

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from integrations.crm.salesforce.ids import to_18

GRAMMAR = r"""
start: query

query: _SELECT select_list _FROM NAME where? order_by? limit? offset?
subquery: "(" _SELECT path_list _FROM NAME where? order_by? limit? ")"

select_list: select_item ("," select_item)*
?select_item: path | subquery
path_list: path ("," path)*
path: NAME ("." NAME)*

where: _WHERE condition
?condition: or_cond
?or_cond: and_cond (_OR and_cond)*
?and_cond: not_cond (_AND not_cond)*
?not_cond: _NOT not_cond -> negation
         | "(" condition ")"
         | comparison
comparison: path COMPARATOR value            -> compare
          | path _LIKE value                 -> like
          | path _IN "(" value ("," value)* ")"        -> in_list
          | path _NOT _IN "(" value ("," value)* ")"   -> not_in_list

?value: STRING    -> string
      | DATETIME  -> datetime
      | DATE      -> date
      | NUMBER    -> number
      | _TRUE     -> true
      | _FALSE    -> false
      | _NULL     -> null

order_by: _ORDER _BY order_item ("," order_item)*
order_item: path DIRECTION? nulls?
nulls: _NULLS NULLS_WHERE
limit: _LIMIT INT
offset: _OFFSET INT

_SELECT.2: /select\b/i
_FROM.2: /from\b/i
_WHERE.2: /where\b/i
_AND.2: /and\b/i
_OR.2: /or\b/i
_NOT.2: /not\b/i
_LIKE.2: /like\b/i
_IN.2: /in\b/i
_ORDER.2: /order\b/i
_BY.2: /by\b/i
_LIMIT.2: /limit\b/i
_OFFSET.2: /offset\b/i
_NULLS.2: /nulls\b/i
_TRUE.2: /true\b/i
_FALSE.2: /false\b/i
_NULL.2: /null\b/i
DIRECTION.2: /(asc|desc)\b/i
NULLS_WHERE.2: /(first|last)\b/i
COMPARATOR: "!=" | "<>" | "<=" | ">=" | "=" | "<" | ">"
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/
DATE.3: /\d{4}-\d{2}-\d{2}/
NUMBER.2: /[+-]?\d+(\.\d+)?/
INT: /\d+/
STRING: /'(\\.|[^'\\])*'/
NAME: /[A-Za-z][A-Za-z0-9_]*/

%import common.WS
%ignore WS
"""


class SoqlError(Exception):
    def __init__(self, error_code: str, message: str):
        super().__init__(message)
        self.error_code = error_code
        self.message = message


@dataclass
class Path:
    parts: tuple[str, ...]  # as written: ("Account", "Name")

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass
class Literal:
    kind: str  # string, number, date, datetime, boolean, null
    value: object


@dataclass
class Compare:
    path: Path
    op: str  # =, !=, <, <=, >, >=, like, in, not in
    value: object  # Literal or list[Literal]


@dataclass
class BoolOp:
    op: str  # and, or, not
    operands: list


@dataclass
class OrderItem:
    path: Path
    descending: bool = False
    nulls_last: bool | None = None  # None: Salesforce default (nulls first ASC, last DESC)


@dataclass
class Query:
    fields: list  # Path or Query (subquery)
    sobject: str
    where: object = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


def _unescape(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


def parse_datetime_literal(text: str) -> datetime.datetime:
    normalised = text.replace("Z", "+00:00")
    match = re.match(r"(.*[T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2}):?(\d{2})$", normalised)
    if match:
        normalised = f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    return datetime.datetime.fromisoformat(normalised)


@v_args(inline=True)
class _ToAst(Transformer):
    def start(self, query):
        return query

    def path(self, *names):
        return Path(tuple(str(n) for n in names))

    def select_list(self, *items):
        return list(items)

    def path_list(self, *items):
        return list(items)

    def _query(self, select, sobject, rest):
        query = Query(fields=select, sobject=str(sobject))
        for part in rest:
            kind, value = part
            setattr(query, kind, value)
        return query

    def query(self, select, sobject, *rest):
        return self._query(select, sobject, rest)

    def subquery(self, select, sobject, *rest):
        return self._query(select, sobject, rest)

    def where(self, condition):
        return ("where", condition)

    def order_by(self, *items):
        return ("order_by", list(items))

    def order_item(self, path, *rest):
        item = OrderItem(path=path)
        for part in rest:
            if isinstance(part, Token) and part.type == "DIRECTION":
                item.descending = part.lower() == "desc"
            else:
                item.nulls_last = part
        return item

    def nulls(self, where):
        return str(where).lower() == "last"

    def limit(self, n):
        return ("limit", int(n))

    def offset(self, n):
        return ("offset", int(n))

    def or_cond(self, *operands):
        return BoolOp("or", list(operands))

    def and_cond(self, *operands):
        return BoolOp("and", list(operands))

    def negation(self, operand):
        return BoolOp("not", [operand])

    def compare(self, path, op, value):
        op = str(op)
        return Compare(path, "!=" if op == "<>" else op, value)

    def like(self, path, value):
        return Compare(path, "like", value)

    def in_list(self, path, *values):
        return Compare(path, "in", list(values))

    def not_in_list(self, path, *values):
        return Compare(path, "not in", list(values))

    def string(self, token):
        return Literal("string", _unescape(str(token)))

    def number(self, token):
        return Literal("number", Decimal(str(token)))

    def date(self, token):
        try:
            return Literal("date", datetime.date.fromisoformat(str(token)))
        except ValueError:
            raise SoqlError("MALFORMED_QUERY", f"invalid date: {token}") from None

    def datetime(self, token):
        try:
            return Literal("datetime", parse_datetime_literal(str(token)))
        except ValueError:
            raise SoqlError("MALFORMED_QUERY", f"invalid date: {token}") from None

    def true(self):
        return Literal("boolean", True)

    def false(self):
        return Literal("boolean", False)

    def null(self):
        return Literal("null", None)


_PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


def parse(soql: str) -> Query:
    """Parse SOQL text; raises SoqlError(MALFORMED_QUERY) with Salesforce's
    "ERROR at Row:…:Column:…" position on a syntax error."""
    try:
        return _ToAst().transform(_PARSER.parse(soql))
    except UnexpectedInput as exc:
        near = soql[max(exc.pos_in_stream or 0, 0):][:20] if exc.pos_in_stream is not None else ""
        raise SoqlError(
            "MALFORMED_QUERY",
            f"\n{soql}\nERROR at Row:{exc.line}:Column:{exc.column}\nunexpected token: '{near.split(' ')[0] or 'EOF'}'",
        ) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, SoqlError):
            raise exc.orig_exc from None
        raise SoqlError("MALFORMED_QUERY", str(exc.orig_exc)) from None
    except LarkError as exc:
        raise SoqlError("MALFORMED_QUERY", str(exc)) from None


# ---------------------------------------------------------------- evaluation


@dataclass
class ObjectSchema:
    """One sObject type: its fields (name → type), parent relationships
    (name → (target type, foreign-key field)) and child relationships
    (name → (child type, foreign-key field on the child))."""

    name: str
    fields: dict[str, str]
    parents: dict[str, tuple[str, str]] = field(default_factory=dict)
    children: dict[str, tuple[str, str]] = field(default_factory=dict)
    updateable: frozenset = frozenset()

    def field_name(self, name: str) -> str | None:
        lowered = name.lower()
        return next((f for f in self.fields if f.lower() == lowered), None)

    def parent_name(self, name: str) -> str | None:
        lowered = name.lower()
        return next((p for p in self.parents if p.lower() == lowered), None)

    def child_name(self, name: str) -> str | None:
        lowered = name.lower()
        return next((c for c in self.children if c.lower() == lowered), None)


class Resolver:
    """What the evaluator needs from the store: schemas, records, lookups."""

    def schema(self, sobject: str) -> ObjectSchema | None: ...

    def records(self, sobject: str, *, include_deleted: bool) -> list[dict]: ...

    def get(self, sobject: str, record_id: str) -> dict | None: ...

    def record_url(self, sobject: str, record_id: str) -> str: ...


def _invalid_field(name: str, sobject: str) -> SoqlError:
    return SoqlError(
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom field, "
        "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
    )


@dataclass
class _Resolved:
    """A path checked against the schema: relationship hops then the field."""

    hops: list[tuple[str, str, str]]  # (relationship name, target type, fk field)
    field: str
    field_type: str


def _resolve(resolver: Resolver, schema: ObjectSchema, path: Path) -> _Resolved:
    current = schema
    hops = []
    for part in path.parts[:-1]:
        rel = current.parent_name(part)
        if rel is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{part}' in field path. If you are attempting to use a "
                "custom relationship, be sure to append the '__r' after the custom relationship name.",
            )
        target, fk = current.parents[rel]
        hops.append((rel, target, fk))
        current = resolver.schema(target)
    name = current.field_name(path.parts[-1])
    if name is None:
        raise _invalid_field(path.parts[-1], current.name)
    return _Resolved(hops=hops, field=name, field_type=current.fields[name])


def _value_of(resolver: Resolver, record: dict, resolved: _Resolved):
    current = record
    for _rel, target, fk in resolved.hops:
        ref = current.get(fk)
        current = resolver.get(target, ref) if ref else None
        if current is None:
            return None
    return current.get(resolved.field)


def _coerce(literal: Literal, field_type: str, path: Path):
    """The literal as a value comparable with the field; Salesforce refuses
    quoted dates and unquoted text."""
    if literal.kind == "null":
        return None
    expected = {
        "string": ("string",), "id": ("string",), "picklist": ("string",), "text": ("string",),
        "boolean": ("boolean",), "currency": ("number",), "double": ("number",), "percent": ("number",),
        "int": ("number",), "date": ("date",), "datetime": ("datetime",),
    }[field_type]
    if literal.kind not in expected:
        noun = {"datetime": "dateTime", "id": "string", "picklist": "string", "text": "string"}.get(field_type, field_type)
        if expected == ("string",):
            hint = " and should be enclosed in quotes"
        elif literal.kind == "string":
            hint = " and should not be enclosed in quotes"
        else:
            hint = ""
        # Error code UNCONFIRMED: Salesforce reports these as malformed queries.
        raise SoqlError("MALFORMED_QUERY", f"value of filter criterion for field '{path.text}' must be of type {noun}{hint}")
    if field_type == "id" and isinstance(literal.value, str) and len(literal.value) == 15:
        # SOQL accepts the 15-character form of an id; records hold the 18-character one.
        try:
            return to_18(literal.value)
        except ValueError:
            return literal.value
    return literal.value


def _compare_values(left, right) -> int:
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    if isinstance(left, datetime.datetime) and isinstance(right, datetime.datetime):
        pass
    return (left > right) - (left < right)


def _like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


class _Condition:
    def __init__(self, resolver: Resolver, schema: ObjectSchema, node):
        self.resolver = resolver
        self.node = self._prepare(schema, node)

    def _prepare(self, schema, node):
        if isinstance(node, BoolOp):
            return BoolOp(node.op, [self._prepare(schema, n) for n in node.operands])
        resolved = _resolve(self.resolver, schema, node.path)
        if node.op in ("in", "not in"):
            value = [_coerce(v, resolved.field_type, node.path) for v in node.value]
        else:
            value = _coerce(node.value, resolved.field_type, node.path)
            if node.op == "like" and resolved.field_type not in ("string", "id", "picklist", "text"):
                raise SoqlError("INVALID_FIELD", f"invalid operator on {resolved.field_type} field: LIKE")
            if value is None and node.op not in ("=", "!="):
                raise SoqlError("MALFORMED_QUERY", f"null can only be compared with = or != ({node.path.text})")
        return (resolved, node.op, value)

    def matches(self, record) -> bool:
        return self._eval(self.node, record)

    def _eval(self, node, record) -> bool:
        if isinstance(node, BoolOp):
            if node.op == "and":
                return all(self._eval(n, record) for n in node.operands)
            if node.op == "or":
                return any(self._eval(n, record) for n in node.operands)
            return not self._eval(node.operands[0], record)
        resolved, op, wanted = node
        actual = _value_of(self.resolver, record, resolved)
        if op == "=":
            return actual is None if wanted is None else actual is not None and _compare_values(actual, wanted) == 0
        if op == "!=":
            return actual is not None if wanted is None else actual is None or _compare_values(actual, wanted) != 0
        if op in ("in", "not in"):
            found = any(
                (actual is None and w is None) or (actual is not None and w is not None and _compare_values(actual, w) == 0)
                for w in wanted
            )
            return found if op == "in" else not found
        if actual is None:
            return False
        if op == "like":
            return _like(str(actual), wanted)
        result = _compare_values(actual, wanted)
        return {"<": result < 0, "<=": result <= 0, ">": result > 0, ">=": result >= 0}[op]


def _sort(resolver, schema, records, order_by: list[OrderItem]):
    keys = [(_resolve(resolver, schema, item.path), item) for item in order_by]

    def compare(a, b):
        for resolved, item in keys:
            va, vb = _value_of(resolver, a, resolved), _value_of(resolver, b, resolved)
            nulls_last = item.descending if item.nulls_last is None else item.nulls_last
            if va is None or vb is None:
                if va is None and vb is None:
                    continue
                # nulls sort as a block, independent of the direction
                return (1 if nulls_last else -1) if va is None else (-1 if nulls_last else 1)
            result = _compare_values(va, vb)
            if result:
                return -result if item.descending else result
        return 0

    return sorted(records, key=cmp_to_key(compare))


def _shape(resolver: Resolver, schema: ObjectSchema, record: dict, fields: list, plan: dict) -> dict:
    """The JSON record Salesforce returns: attributes, then the selected
    fields in order, relationship fields nested as objects."""
    out = {"attributes": {"type": schema.name, "url": resolver.record_url(schema.name, record["Id"])}}
    for item in fields:
        if isinstance(item, Query):
            out[plan[id(item)]["relationship"]] = _child_result(resolver, record, item, plan[id(item)])
            continue
        resolved = plan[id(item)]
        target = out
        current = record
        for rel, rel_type, fk in resolved.hops:
            parent = resolver.get(rel_type, current.get(fk)) if current and current.get(fk) else None
            if rel not in target or target[rel] is None:
                target[rel] = (
                    None if parent is None
                    else {"attributes": {"type": rel_type, "url": resolver.record_url(rel_type, parent["Id"])}}
                )
            if target[rel] is None:
                break
            target = target[rel]
            current = parent
        else:
            target[resolved.field] = current.get(resolved.field)
    return out


def _child_result(resolver, parent_record, subquery: Query, plan: dict):
    child_schema = plan["schema"]
    rows = [r for r in resolver.records(child_schema.name, include_deleted=False) if r.get(plan["fk"]) == parent_record["Id"]]
    if plan["where"] is not None:
        rows = [r for r in rows if plan["where"].matches(r)]
    if subquery.order_by:
        rows = _sort(resolver, child_schema, rows, subquery.order_by)
    if subquery.limit is not None:
        rows = rows[: subquery.limit]
    if not rows:
        return None
    shaped = [_shape(resolver, child_schema, r, subquery.fields, plan["fields"]) for r in rows]
    return {"totalSize": len(shaped), "done": True, "records": shaped}


def execute(resolver: Resolver, query: Query, *, include_deleted: bool = False) -> list[dict]:
    """All records the query selects, shaped as Salesforce returns them."""
    schema = resolver.schema(query.sobject) or _lookup_type(resolver, query.sobject)
    plan: dict = {}
    seen_child = False
    for item in query.fields:
        if isinstance(item, Query):
            if seen_child:
                # The sandbox supports one child subquery per query (all TaxPoynt sends).
                raise SoqlError("MALFORMED_QUERY", "only one child subquery is supported by this sandbox")
            seen_child = True
            rel = schema.child_name(item.sobject)
            if rel is None:
                raise SoqlError(
                    "INVALID_TYPE",
                    f"Didn't understand relationship '{item.sobject}' in FROM part of query call. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after the custom "
                    "relationship name.",
                )
            child_type, fk = schema.children[rel]
            child_schema = resolver.schema(child_type)
            plan[id(item)] = {
                "relationship": rel, "schema": child_schema, "fk": fk,
                "fields": {id(p): _resolve(resolver, child_schema, p) for p in item.fields},
                "where": _Condition(resolver, child_schema, item.where) if item.where is not None else None,
            }
            if item.order_by:
                _sort(resolver, child_schema, [], item.order_by)  # validates the fields
        else:
            plan[id(item)] = _resolve(resolver, schema, item)
    condition = _Condition(resolver, schema, query.where) if query.where is not None else None
    rows = resolver.records(schema.name, include_deleted=include_deleted)
    if condition is not None:
        rows = [r for r in rows if condition.matches(r)]
    if query.order_by:
        rows = _sort(resolver, schema, rows, query.order_by)
    if query.offset:
        rows = rows[query.offset:]
    if query.limit is not None:
        rows = rows[: query.limit]
    return [_shape(resolver, schema, r, query.fields, plan) for r in rows]


def _lookup_type(resolver, name):
    raise SoqlError(
        "INVALID_TYPE",
        f"\nFROM {name}\n     ^\nERROR at Row:1:Column:1\nsObject type '{name}' is not supported. If you are "
        "attempting to use a custom object, be sure to append the '__c' after the entity name. Please "
        "reference your WSDL or the describe call for the appropriate names.",
    )

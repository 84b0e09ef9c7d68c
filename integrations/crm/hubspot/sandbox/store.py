"""In-memory state of the HubSpot sandbox: one portal's CRM objects and
associations, OAuth apps/codes/tokens, and a clock tests can move.

Everything is guarded by one re-entrant lock; handlers take it for the whole
read or write so a request sees one consistent state.
"""
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from . import facts


def iso_ms(ms: int) -> str:
    """HubSpot's timestamp text: ISO 8601, milliseconds, 'Z'."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_ms(value) -> int | None:
    """A datetime property or filter value → epoch ms (accepts ms text or ISO)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


@dataclass
class CrmObject:
    type: str
    id: str
    properties: dict
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    app_id: int
    redirect_uris: list[str]          # empty list: any redirect URI is accepted
    webhook_url: str | None = None
    subscriptions: list[dict] = field(default_factory=list)   # each {id, eventType, propertyName?, active}


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False


@dataclass
class Token:
    token: str
    kind: str                  # "access" | "refresh" | "private"
    client_id: str | None
    scopes: list[str]
    expires_at: float | None   # None: never
    refresh_token: str | None = None
    revoked: bool = False


class Store:
    def __init__(self, *, portal_id: int, user: str, hub_domain: str):
        self.lock = threading.RLock()
        self.portal_id = portal_id
        self.user = user
        self.user_id = 7000001
        self.hub_domain = hub_domain
        self.clock_offset = 0.0
        self.apps: dict[str, OAuthApp] = {}
        self.codes: dict[str, AuthCode] = {}
        self.tokens: dict[str, Token] = {}
        self.reset_crm()

    # clock -------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # CRM ---------------------------------------------------------------
    def reset_crm(self):
        with self.lock:
            self.objects: dict[str, dict[str, CrmObject]] = {t: {} for t in facts.OBJECT_TYPES}
            self._ids = {t: itertools.count(facts.ID_BASES[t]) for t in facts.OBJECT_TYPES}
            # (from_type, from_id) → {to_type: {to_id: [typeId, …]}}
            self.associations: dict[tuple[str, str], dict[str, dict[str, list[int]]]] = {}
            self.custom_properties = {t: {} for t in facts.OBJECT_TYPES}
            self.pipelines = [_pipeline_from_facts(self.now_ms())]
            self.association_page_size = facts.ASSOCIATIONS_PAGE_SIZE

    def property_types(self, object_type: str) -> dict[str, str]:
        return {**facts.PROPERTIES[object_type], **self.custom_properties[object_type]}

    def define_property(self, object_type: str, name: str, type_: str = "string"):
        with self.lock:
            if name not in facts.PROPERTIES[object_type]:
                self.custom_properties[object_type][name] = type_

    def stage_ids(self) -> set[str]:
        return {s["id"] for p in self.pipelines for s in p["stages"]}

    def create(self, object_type: str, properties: dict, *, at_ms: int | None = None,
               modified_ms: int | None = None) -> CrmObject:
        """Create an object; unknown property names become custom properties."""
        with self.lock:
            created = at_ms if at_ms is not None else self.now_ms()
            modified = modified_ms if modified_ms is not None else created
            oid = str(next(self._ids[object_type]))
            props = {}
            for name, value in properties.items():
                if name not in self.property_types(object_type):
                    self.define_property(object_type, name)
                props[name] = None if value is None else str(value)
            if object_type == "line_items":
                props["amount"] = line_item_amount(props)
            if object_type == "deals":
                props.setdefault("pipeline", "default")
                props.setdefault("dealstage", "appointmentscheduled")
            props["hs_object_id"] = oid
            props["createdate"] = iso_ms(created)
            props[facts.LAST_MODIFIED[object_type]] = iso_ms(modified)
            if object_type == "contacts":
                props["hs_lastmodifieddate"] = iso_ms(modified)
            obj = CrmObject(type=object_type, id=oid, properties=props, created_ms=created, updated_ms=modified)
            self.objects[object_type][oid] = obj
            return obj

    def update(self, obj: CrmObject, properties: dict, *, at_ms: int | None = None) -> dict:
        """Apply property values; return {name: (old, new)} for those that changed."""
        with self.lock:
            changed = {}
            for name, value in properties.items():
                new = None if value is None or value == "" else str(value)
                old = obj.properties.get(name)
                if old != new:
                    changed[name] = (old, new)
                obj.properties[name] = new
            if obj.type == "line_items":
                obj.properties["amount"] = line_item_amount(obj.properties)
            self.touch(obj, at_ms=at_ms)
            return changed

    def touch(self, obj: CrmObject, *, at_ms: int | None = None):
        ms = at_ms if at_ms is not None else max(self.now_ms(), obj.updated_ms + 1)
        obj.updated_ms = ms
        obj.properties[facts.LAST_MODIFIED[obj.type]] = iso_ms(ms)
        if obj.type == "contacts":
            obj.properties["hs_lastmodifieddate"] = iso_ms(ms)

    def archive(self, obj: CrmObject):
        with self.lock:
            obj.archived = True
            obj.archived_ms = self.now_ms()

    def get(self, object_type: str, oid: str, *, archived: bool = False) -> CrmObject | None:
        obj = self.objects[object_type].get(str(oid))
        if obj is None or obj.archived != archived:
            return None
        return obj

    def live(self, object_type: str) -> list[CrmObject]:
        """Non-archived objects in id order (HubSpot lists ascend by id)."""
        return sorted((o for o in self.objects[object_type].values() if not o.archived), key=lambda o: int(o.id))

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str, *, primary: bool = False):
        with self.lock:
            for a_type, a_id, b_type, b_id in ((from_type, from_id, to_type, to_id), (to_type, to_id, from_type, from_id)):
                type_ids = [facts.ASSOCIATION_TYPES[(a_type, b_type)][0]]
                if primary and (a_type, b_type) in facts.PRIMARY_ASSOCIATION_TYPES:
                    type_ids.insert(0, facts.PRIMARY_ASSOCIATION_TYPES[(a_type, b_type)][0])
                links = self.associations.setdefault((a_type, str(a_id)), {}).setdefault(b_type, {})
                links[str(b_id)] = sorted(set(links.get(str(b_id), [])) | set(type_ids))

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str):
        with self.lock:
            for a_type, a_id, b_type, b_id in ((from_type, from_id, to_type, to_id), (to_type, to_id, from_type, from_id)):
                self.associations.get((a_type, str(a_id)), {}).get(b_type, {}).pop(str(b_id), None)

    def associated(self, from_type: str, from_id: str, to_type: str) -> dict[str, list[int]]:
        """{to_id: [typeId, …]} for live targets, in id order."""
        links = self.associations.get((from_type, str(from_id)), {}).get(to_type, {})
        return {tid: links[tid] for tid in sorted(links, key=int) if self.get(to_type, tid) is not None}

    # OAuth -------------------------------------------------------------
    def new_code(self, **fields) -> AuthCode:
        with self.lock:
            code = AuthCode(code=secrets.token_urlsafe(24), expires_at=self.now() + facts.AUTH_CODE_TTL, **fields)
            self.codes[code.code] = code
            return code

    def issue_tokens(self, *, client_id: str | None, scopes: list[str], access_ttl: int,
                     refresh_token: str | None = None) -> tuple[Token, Token]:
        """An access token, plus a refresh token (new, or the one being used)."""
        with self.lock:
            if refresh_token is None:
                refresh = Token(token=_uuidish(), kind="refresh", client_id=client_id, scopes=scopes, expires_at=None)
                self.tokens[refresh.token] = refresh
            else:
                refresh = self.tokens[refresh_token]
            access = Token(token="CN" + secrets.token_urlsafe(48), kind="access", client_id=client_id,
                           scopes=list(scopes), expires_at=self.now() + access_ttl, refresh_token=refresh.token)
            self.tokens[access.token] = access
            return access, refresh

    def issue_private_token(self, scopes: list[str]) -> Token:
        with self.lock:
            tok = Token(token="pat-na1-" + _uuidish(), kind="private", client_id=None, scopes=list(scopes), expires_at=None)
            self.tokens[tok.token] = tok
            return tok


def line_item_amount(props: dict) -> str | None:
    """HubSpot computes a line item's amount: quantity × price − discount."""
    try:
        qty = Decimal(props.get("quantity") or "1")
        price = Decimal(props.get("price") or "0")
        gross = qty * price
        if props.get("discount"):
            gross -= Decimal(props["discount"]) * qty
        elif props.get("hs_discount_percentage"):
            gross -= gross * Decimal(props["hs_discount_percentage"]) / 100
    except InvalidOperation:
        return props.get("amount")
    return str(gross.quantize(Decimal("0.01")))  # two decimals (UNCONFIRMED format)


def _uuidish() -> str:
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _pipeline_from_facts(now_ms: int) -> dict:
    p = facts.DEFAULT_PIPELINE
    stamp = iso_ms(now_ms)
    return {
        "id": p["id"], "label": p["label"], "displayOrder": p["displayOrder"], "archived": False,
        "createdAt": stamp, "updatedAt": stamp,
        "stages": [
            {"id": sid, "label": label, "displayOrder": i, "archived": False, "createdAt": stamp,
             "updatedAt": stamp, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
             "metadata": {"isClosed": closed, "probability": prob}}
            for i, (sid, label, prob, closed) in enumerate(p["stages"])
        ],
    }

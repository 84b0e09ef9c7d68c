"""The sandbox control object (`app.sandbox`) and its HTTP face under /_sandbox/.

Tests in the same process call the methods; tests, benches and `make demo`
in another process POST JSON to the matching /_sandbox/ route (body keys are
the keyword arguments). See the package docstring for the full list.
"""
import itertools
import json
from datetime import datetime, timezone
from decimal import Decimal

from werkzeug.routing import Map, Rule

from . import facts, oauth
from .crm import object_type, render
from .ratelimit import RateLimiter
from .responses import HubSpotError, json_response, not_found, validation_error
from .store import OAuthApp, Store, iso_ms, parse_ms
from .webhooks import WebhookSender

DEFAULT_CLIENT_ID = "taxpoynt-sandbox-client-id"
DEFAULT_CLIENT_SECRET = "taxpoynt-sandbox-client-secret"


class Sandbox:
    """In-process control of one HubSpot sandbox portal (thread-safe)."""

    def __init__(self, *, portal_id: int = 62515, app_id: int = 54321, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, redirect_uris=(), webhook_url: str | None = None,
                 subscriptions=None, access_token_ttl: int = facts.ACCESS_TOKEN_TTL,
                 ten_secondly_limit: int = facts.TEN_SECONDLY_LIMIT, search_per_second: int = facts.SEARCH_PER_SECOND,
                 daily_limit: int = facts.DAILY_LIMIT, time_factor: float = 1.0,
                 webhook_timeout: float = facts.WEBHOOK_TIMEOUT, webhook_max_retries: int = facts.WEBHOOK_MAX_RETRIES,
                 enforce_scopes: bool = True, hub_domain: str = "taxpoynt-sandbox.hubspot.local",
                 user: str = "owner@taxpoynt-sandbox.example", base_url: str | None = None):
        self.base_url = base_url
        self.access_token_ttl = access_token_ttl
        self.enforce_scopes = enforce_scopes
        self.store = Store(portal_id=portal_id, user=user, hub_domain=hub_domain)
        self.limiter = RateLimiter(ten_secondly=ten_secondly_limit, search_per_second=search_per_second,
                                   daily=daily_limit)
        self.webhooks = WebhookSender(time_factor=time_factor, timeout=webhook_timeout,
                                      max_retries=webhook_max_retries, backoff_base=facts.WEBHOOK_BACKOFF_BASE)
        self._subscription_ids = itertools.count(100001)
        self._initial_limits = dict(ten_secondly=ten_secondly_limit, search_per_second=search_per_second,
                                    daily=daily_limit, access_token_ttl=access_token_ttl)
        self._initial_app = dict(client_id=client_id, client_secret=client_secret, redirect_uris=list(redirect_uris),
                                 webhook_url=webhook_url, subscriptions=subscriptions, app_id=app_id)
        self.configure_app(**self._initial_app)

    # helpers ---------------------------------------------------------------
    def url(self, path: str) -> str:
        return (self.base_url or "http://127.0.0.1:8702").rstrip("/") + path

    @property
    def portal_id(self) -> int:
        return self.store.portal_id

    def close(self):
        """Stop the webhook sender and close its connections (a stopped sandbox's last duty)."""
        self.webhooks.close()

    # configuration ---------------------------------------------------------
    def reset(self) -> dict:
        """Back to an empty portal: CRM data, tokens, codes, faults, deliveries; app config and
        limits as created."""
        with self.store.lock:
            self.store.reset_crm()
            self.store.codes.clear()
            self.store.tokens.clear()
            self.store.apps.clear()
            self.store.clock_offset = 0.0
            self.limiter.reset()
            self.set_limits(**self._initial_limits)
            self.webhooks.reset()
            self.configure_app(**self._initial_app)
        return {"reset": True}

    def configure_app(self, *, client_id: str | None = None, client_secret: str | None = None,
                      redirect_uris=None, webhook_url: str | None = None, subscriptions=None,
                      app_id: int | None = None) -> dict:
        """Create or update the (single) OAuth app; returns its settings."""
        with self.store.lock:
            current = next(iter(self.store.apps.values()), None)
            if current is None:
                current = OAuthApp(client_id=client_id or DEFAULT_CLIENT_ID,
                                   client_secret=client_secret or DEFAULT_CLIENT_SECRET,
                                   app_id=app_id or 54321, redirect_uris=[])
                subscriptions = facts.DEFAULT_SUBSCRIPTIONS if subscriptions is None else subscriptions
            if client_id and client_id != current.client_id:
                self.store.apps.pop(current.client_id, None)
                current.client_id = client_id
            if client_secret:
                current.client_secret = client_secret
            if redirect_uris is not None:
                current.redirect_uris = [redirect_uris] if isinstance(redirect_uris, str) else list(redirect_uris)
            if webhook_url is not None:
                current.webhook_url = webhook_url or None
            if app_id:
                current.app_id = int(app_id)
            if subscriptions is not None:
                current.subscriptions = [
                    {"id": next(self._subscription_ids), "eventType": s["eventType"],
                     "propertyName": s.get("propertyName"), "active": s.get("active", True)}
                    for s in subscriptions
                ]
            self.store.apps[current.client_id] = current
            return self.app_settings()

    def app_settings(self) -> dict:
        app = next(iter(self.store.apps.values()))
        return {"client_id": app.client_id, "client_secret": app.client_secret, "app_id": app.app_id,
                "portal_id": self.store.portal_id, "redirect_uris": app.redirect_uris,
                "webhook_url": app.webhook_url, "subscriptions": app.subscriptions,
                "authorize_url": self.url("/oauth/authorize"),
                "token_url": self.url(facts.OAUTH_TOKEN_PATH.format(version=facts.OAUTH_VERSIONS[0])),
                "api_base_url": self.url("")}

    def set_limits(self, *, ten_secondly: int | None = None, search_per_second: int | None = None,
                   daily: int | None = None, access_token_ttl: int | None = None) -> dict:
        with self.limiter.lock:
            if ten_secondly is not None:
                self.limiter.ten_secondly = int(ten_secondly)
            if search_per_second is not None:
                self.limiter.search_per_second = int(search_per_second)
            if daily is not None:
                self.limiter.daily = int(daily)
        if access_token_ttl is not None:
            self.access_token_ttl = int(access_token_ttl)
        return {"ten_secondly": self.limiter.ten_secondly, "search_per_second": self.limiter.search_per_second,
                "daily": self.limiter.daily, "access_token_ttl": self.access_token_ttl}

    def fail_next(self, count: int | None = 1, *, status: int = 429, path_prefix: str = "/crm/",
                  oauth_error: str | None = None) -> dict:
        """The next `count` calls under `path_prefix` (None: every one until
        `clear_faults`) answer `status` (429 or 5xx): authenticated API calls
        after their token and scopes are checked, and the OAuth endpoints
        (e.g. "/oauth/2026-03/token/revoke": the revocation). `oauth_error`, a
        legacy status of facts.OAUTH_ERRORS (e.g. "BAD_REFRESH_TOKEN"): the
        calls answer that OAuth error (400) instead."""
        if oauth_error is not None:
            if oauth_error not in facts.OAUTH_ERRORS:
                raise validation_error(f"oauth_error must be one of {sorted(facts.OAUTH_ERRORS)}")
            status = 400
        self.limiter.add_fault(status=int(status), count=None if count is None else int(count),
                               path_prefix=path_prefix, oauth_error=oauth_error)
        return {"status": status, "count": count, "path_prefix": path_prefix, "oauth_error": oauth_error}

    def clear_faults(self) -> dict:
        """The sandbox recovers: the faults not yet used are dropped."""
        self.limiter.clear_faults()
        return {"faults": 0}

    def reset_rate_limits(self) -> dict:
        with self.limiter.lock:
            self.limiter.window.clear()
            self.limiter.search_windows.clear()
        return {"reset": True}

    # OAuth shortcuts -----------------------------------------------------------
    def authorize(self, *, redirect_uri: str, scope, client_id: str | None = None, state: str | None = None,
                  optional_scope=(), code_challenge: str | None = None,
                  code_challenge_method: str | None = None) -> dict:
        """What pressing "Grant access" does, without the HTML: returns the code and redirect URL."""
        app = self.store.apps.get(client_id) if client_id else next(iter(self.store.apps.values()))
        if app is None or (app.redirect_uris and redirect_uri not in app.redirect_uris):
            raise validation_error("unknown client_id or redirect_uri mismatch")
        scopes = scope.split() if isinstance(scope, str) else list(scope)
        optional = optional_scope.split() if isinstance(optional_scope, str) else list(optional_scope)
        code = oauth.grant_code(self, client_id=app.client_id, redirect_uri=redirect_uri, scopes=scopes + optional,
                                code_challenge=code_challenge, code_challenge_method=code_challenge_method)
        params = {"code": code} | ({"state": state} if state else {})
        return {"code": code, "redirect_url": oauth._with_query(redirect_uri, params)}

    def issue_token(self, *, scopes=None, private: bool = False) -> dict:
        """Mint tokens without the consent flow. OAuth: HubSpot's token response; private: {"access_token"}."""
        scopes = list(scopes) if scopes else [f"crm.objects.{t}.{m}" for t in facts.OBJECT_TYPES
                                               for m in ("read", "write")]
        if private:
            return {"access_token": self.store.issue_private_token(scopes).token, "token_type": "private"}
        app = next(iter(self.store.apps.values()))
        access, refresh = self.store.issue_tokens(client_id=app.client_id, scopes=scopes,
                                                  access_ttl=self.access_token_ttl)
        return oauth.token_response(self, access, refresh)

    def expire_access_tokens(self) -> dict:
        """Every OAuth access token issued so far is now expired (refresh tokens still work)."""
        with self.store.lock:
            n = 0
            for tok in self.store.tokens.values():
                if tok.kind == "access" and tok.expires_at > self.store.now():
                    tok.expires_at = self.store.now() - 1
                    n += 1
        return {"expired": n}

    def advance_clock(self, seconds: float) -> dict:
        """Move the sandbox clock (token and auth-code expiry, new timestamps)."""
        with self.store.lock:
            self.store.clock_offset += float(seconds)
        return {"now": iso_ms(self.store.now_ms())}

    # CRM data ----------------------------------------------------------------
    def define_property(self, object_type_: str, name: str, type: str = "string") -> dict:
        self.store.define_property(object_type(object_type_), name, type)
        return {"objectType": object_type(object_type_), "name": name, "type": type}

    def create_object(self, object_type_: str, properties: dict, *, created_at=None, modified_at=None,
                      notify: bool = True) -> dict:
        otype = object_type(object_type_)
        with self.store.lock:
            obj = self.store.create(otype, properties, at_ms=_ms(created_at), modified_ms=_ms(modified_at))
            if notify:
                self.object_created(obj, source="CRM_UI")
            return render(self, obj, properties=list(obj.properties))

    def create_company(self, properties: dict, **kw) -> dict:
        return self.create_object("companies", properties, **kw)

    def create_contact(self, properties: dict, **kw) -> dict:
        return self.create_object("contacts", properties, **kw)

    def create_deal(self, properties: dict, *, line_items=(), company_id=None, contact_ids=(),
                    created_at=None, modified_at=None, notify: bool = True) -> dict:
        """A deal with its line items (each a property dict) and associations; returns the deal
        rendered with all properties plus "line_item_ids"."""
        with self.store.lock:
            created, modified = _ms(created_at), _ms(modified_at)
            deal = self.store.create("deals", properties, at_ms=created, modified_ms=modified)
            item_ids = []
            for item in line_items:
                li = self.store.create("line_items", item, at_ms=created, modified_ms=modified)
                self.store.associate("deals", deal.id, "line_items", li.id)
                item_ids.append(li.id)
            if company_id:
                self._require("companies", company_id)
                self.store.associate("deals", deal.id, "companies", str(company_id), primary=True)
            for cid in contact_ids:
                self._require("contacts", cid)
                self.store.associate("deals", deal.id, "contacts", str(cid))
            if notify:
                self.object_created(deal, source="CRM_UI")
            out = render(self, deal, properties=list(deal.properties),
                         associations=["line_items", "companies", "contacts"])
            out["line_item_ids"] = item_ids
            return out

    def seed(self, *, companies=(), contacts=(), deals=(), notify: bool = False) -> dict:
        """Bulk create. companies/contacts: lists of property dicts. deals: list of
        {"properties": {…}, "line_items": [{…}], "company": <index into companies or id>,
        "contacts": [<index or id>], "created_at"?, "modified_at"?}. Returns the new ids."""
        with self.store.lock:
            company_ids = [self.create_company(p, notify=notify)["id"] for p in companies]
            contact_ids = [self.create_contact(p, notify=notify)["id"] for p in contacts]
            deal_rows = []
            for spec in deals:
                company = spec.get("company")
                if isinstance(company, int) and company < len(company_ids):
                    company = company_ids[company]
                cids = [contact_ids[c] if isinstance(c, int) and c < len(contact_ids) else c
                        for c in spec.get("contacts", [])]
                row = self.create_deal(spec.get("properties", {}), line_items=spec.get("line_items", []),
                                       company_id=company, contact_ids=cids, created_at=spec.get("created_at"),
                                       modified_at=spec.get("modified_at"), notify=notify)
                deal_rows.append({"id": row["id"], "line_item_ids": row["line_item_ids"]})
            return {"companies": company_ids, "contacts": contact_ids, "deals": deal_rows}

    def generate_deals(self, *, count: int, stage: str = "closedwon", modified_start=None,
                       modified_step_ms: int = 1000, line_items_per_deal: int = 1, with_company: bool = True,
                       currency: str = "NGN", unit_price: str = "10000.00", notify: bool = False) -> dict:
        """`count` deals with hs_lastmodifieddate = modified_start + i × modified_step_ms
        (step 0: all share one timestamp, to test sync cursors on ties)."""
        start = _ms(modified_start) or self.store.now_ms() - int(count) * max(int(modified_step_ms), 1)
        ids = []
        with self.store.lock:
            company_id = None
            if with_company:
                company_id = self.create_company({"name": "Generated Buyer Ltd", "domain": "buyer.example.ng",
                                                  "country": "NG", "city": "Lagos", "tin": "12345678-0001"},
                                                 notify=False)["id"]
            for i in range(int(count)):
                at = start + i * int(modified_step_ms)
                items = [{"name": f"Item {j + 1}", "quantity": "1", "price": unit_price, "hs_sku": f"SKU-{j + 1}"}
                         for j in range(int(line_items_per_deal))]
                total = Decimal(unit_price) * len(items)
                row = self.create_deal({"dealname": f"Generated deal {i + 1}", "amount": str(total),
                                        "deal_currency_code": currency, "dealstage": stage, "pipeline": "default",
                                        "closedate": iso_ms(at)},
                                       line_items=items, company_id=company_id, created_at=at, modified_at=at,
                                       notify=notify)
                ids.append(row["id"])
        return {"ids": ids, "company_id": company_id, "first_modified": iso_ms(start),
                "last_modified": iso_ms(start + (int(count) - 1) * int(modified_step_ms)) if count else None}

    def update_object(self, object_type_: str, object_id: str, properties: dict, *, source: str = "CRM_UI") -> dict:
        """Change properties as a HubSpot user would (bumps last-modified, fires propertyChange webhooks)."""
        otype = object_type(object_type_)
        with self.store.lock:
            obj = self._require(otype, object_id)
            for name in properties:
                if name not in self.store.property_types(otype):
                    self.store.define_property(otype, name)
            changed = self.store.update(obj, properties)
            self.object_changed(obj, changed, source=source)
            return render(self, obj, properties=list(obj.properties))

    def move_deal_stage(self, deal_id: str, stage: str, *, source: str = "CRM_UI") -> dict:
        if stage not in self.store.stage_ids():
            raise validation_error(f"{stage} was not one of the allowed options")
        return self.update_object("deals", deal_id, {"dealstage": stage}, source=source)

    def delete_object(self, object_type_: str, object_id: str) -> dict:
        otype = object_type(object_type_)
        with self.store.lock:
            obj = self._require(otype, object_id)
            self.store.archive(obj)
            self._send(self._events(otype, "deletion", obj.id, {"changeFlag": "DELETED"}, source="CRM_UI"))
        return {"archived": obj.id}

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str, *, primary: bool = False,
                  remove: bool = False) -> dict:
        from_type, to_type = object_type(from_type), object_type(to_type)
        with self.store.lock:
            self._require(from_type, from_id)
            self._require(to_type, to_id)
            if remove:
                self.store.dissociate(from_type, from_id, to_type, to_id)
            else:
                self.store.associate(from_type, from_id, to_type, to_id, primary=primary)
            if from_type == "deals":
                self._emit_association(str(from_id), to_type, str(to_id), removed=remove, primary=primary)
            elif to_type == "deals":
                self._emit_association(str(to_id), from_type, str(from_id), removed=remove, primary=primary)
        return {"from": str(from_id), "to": str(to_id), "removed": remove}

    def set_association_page_size(self, size: int) -> dict:
        """How many links one association read returns per input before paging
        with `after` (facts.ASSOCIATIONS_PAGE_SIZE until the next reset)."""
        if int(size) < 1:
            raise validation_error("size must be at least 1")
        with self.store.lock:
            self.store.association_page_size = int(size)
        return {"association_page_size": self.store.association_page_size}

    def get_object(self, object_type_: str, object_id: str) -> dict:
        otype = object_type(object_type_)
        with self.store.lock:
            obj = self._require(otype, object_id)
            return render(self, obj, properties=list(obj.properties),
                          associations=[t for t in facts.OBJECT_TYPES if t != otype])

    def _require(self, otype, oid):
        obj = self.store.get(otype, str(oid))
        if obj is None:
            raise not_found(f"{otype} {oid} does not exist")
        return obj

    # webhooks ----------------------------------------------------------------
    def object_created(self, obj, *, source: str):
        self._send(self._events(obj.type, "creation", obj.id, {"changeFlag": "CREATED"}, source=source))

    def object_changed(self, obj, changed: dict, *, source: str):
        """One delivery per app holding an event for each subscribed property that changed."""
        events = []
        for name, (_, new) in changed.items():
            events += self._events(obj.type, "propertyChange", obj.id,
                                   {"propertyName": name, "propertyValue": new or ""},
                                   source=source, property_name=name)
        self._send(events)

    def _emit_association(self, deal_id, to_type, to_id, *, removed, primary):
        extra = {"associationType": facts.WEBHOOK_ASSOCIATION_TYPE.get(to_type, f"DEAL_TO_{to_type.upper()}"),
                 "fromObjectId": int(deal_id), "toObjectId": int(to_id), "associationRemoved": removed,
                 "isPrimaryAssociation": bool(primary)}
        self._send(self._events("deals", "associationChange", None, extra, source="CRM_UI"))

    def _events(self, otype, action, object_id, extra, *, source, property_name=None) -> list:
        """(app, event) pairs for every active subscription matching this change."""
        event_type = f"{facts.SINGULAR[otype]}.{action}"
        now = self.store.now_ms()
        pairs = []
        for app in list(self.store.apps.values()):
            if not app.webhook_url:
                continue
            for sub in app.subscriptions:
                if not sub["active"] or sub["eventType"] != event_type:
                    continue
                if action == "propertyChange" and sub.get("propertyName") != property_name:
                    continue
                event = {"eventId": self.webhooks.next_event_id(), "subscriptionId": sub["id"],
                         "portalId": self.store.portal_id, "appId": app.app_id, "occurredAt": now,
                         "subscriptionType": event_type, "attemptNumber": 0}
                if object_id is not None:
                    event["objectId"] = int(object_id)
                event.update(extra)
                event["changeSource"] = source
                if source == "INTEGRATION":
                    event["sourceId"] = str(app.app_id)
                pairs.append((app, event))
        return pairs

    def _send(self, pairs):
        by_app = {}
        for app, event in pairs:
            by_app.setdefault(app.client_id, (app, []))[1].append(event)
        for app, events in by_app.values():
            for start in range(0, len(events), facts.WEBHOOK_MAX_BATCH):
                self.webhooks.enqueue(url=app.webhook_url, secret=app.client_secret,
                                      events=events[start:start + facts.WEBHOOK_MAX_BATCH])

    def deliveries(self) -> list[dict]:
        """Delivery log, oldest first: {id, url, mode, state, eventIds, events, attempts[{attemptNumber,
        status, error, timestamp, sentAt, durationMs, nextAttemptInSeconds?}]}."""
        return self.webhooks.log()

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        return self.webhooks.wait_idle(timeout)

    def redeliver(self, event_id: int) -> dict:
        """Send an already-sent event again, same eventId (HubSpot may deliver duplicates)."""
        event = self._event(event_id)
        app = next(iter(self.store.apps.values()))
        return self.webhooks.enqueue(url=app.webhook_url, secret=app.client_secret, events=[event],
                                     mode="redelivery").as_dict()

    def send_tampered(self, event_id: int, *, mode: str = "tampered_body") -> dict:
        """One delivery of the event that must fail verification: tampered_body, bad_signature,
        old_timestamp (signed correctly, 10 minutes old) or wrong_secret. Not retried."""
        if mode not in ("tampered_body", "bad_signature", "old_timestamp", "wrong_secret"):
            raise validation_error(f"unknown mode {mode}")
        event = self._event(event_id)
        app = next(iter(self.store.apps.values()))
        return self.webhooks.enqueue(url=app.webhook_url, secret=app.client_secret, events=[event],
                                     mode=mode, retry=False).as_dict()

    def _event(self, event_id):
        with self.webhooks.cond:
            event = self.webhooks.events.get(int(event_id))
        if event is None:
            raise not_found(f"event {event_id} was never sent")
        return event

    def state(self) -> dict:
        with self.store.lock:
            return {"app": self.app_settings(),
                    "counts": {t: len(self.store.live(t)) for t in facts.OBJECT_TYPES},
                    "now": iso_ms(self.store.now_ms()),
                    "limits": self.set_limits(),
                    "deliveries": len(self.webhooks.deliveries)}


def _ms(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp() * 1000)
    if isinstance(value, (int, float)):
        return int(value)
    ms = parse_ms(value)
    if ms is None:
        raise validation_error(f"not a timestamp: {value!r}")
    return ms


# HTTP face ------------------------------------------------------------------------
CONTROL_RULES = Map([
    Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
    Rule("/_sandbox/state", methods=["GET"], endpoint="state"),
    Rule("/_sandbox/app", methods=["POST"], endpoint="configure_app"),
    Rule("/_sandbox/limits", methods=["POST"], endpoint="set_limits"),
    Rule("/_sandbox/limits/reset", methods=["POST"], endpoint="reset_rate_limits"),
    Rule("/_sandbox/faults", methods=["POST"], endpoint="fail_next"),
    Rule("/_sandbox/faults", methods=["DELETE"], endpoint="clear_faults"),
    Rule("/_sandbox/authorize", methods=["POST"], endpoint="authorize"),
    Rule("/_sandbox/tokens", methods=["POST"], endpoint="issue_token"),
    Rule("/_sandbox/tokens/expire", methods=["POST"], endpoint="expire_access_tokens"),
    Rule("/_sandbox/clock", methods=["POST"], endpoint="advance_clock"),
    Rule("/_sandbox/properties", methods=["POST"], endpoint="define_property"),
    Rule("/_sandbox/seed", methods=["POST"], endpoint="seed"),
    Rule("/_sandbox/deals/generate", methods=["POST"], endpoint="generate_deals"),
    Rule("/_sandbox/deals/<deal_id>/stage", methods=["POST"], endpoint="move_deal_stage"),
    Rule("/_sandbox/objects/<object_type_>", methods=["POST"], endpoint="create_object"),
    Rule("/_sandbox/objects/<object_type_>/<object_id>", methods=["GET"], endpoint="get_object"),
    Rule("/_sandbox/objects/<object_type_>/<object_id>", methods=["PATCH"], endpoint="update_object"),
    Rule("/_sandbox/objects/<object_type_>/<object_id>", methods=["DELETE"], endpoint="delete_object"),
    Rule("/_sandbox/associations", methods=["POST"], endpoint="associate"),
    Rule("/_sandbox/associations/page-size", methods=["POST"], endpoint="set_association_page_size"),
    Rule("/_sandbox/webhooks/deliveries", methods=["GET"], endpoint="deliveries"),
    Rule("/_sandbox/webhooks/wait", methods=["POST"], endpoint="wait_for_webhooks"),
    Rule("/_sandbox/webhooks/redeliver", methods=["POST"], endpoint="redeliver"),
    Rule("/_sandbox/webhooks/tampered", methods=["POST"], endpoint="send_tampered"),
])


def control_dispatch(sandbox: Sandbox, request, endpoint, args) -> object:
    try:
        body = json.loads(request.get_data(as_text=True) or "{}") if request.method != "GET" else {}
    except json.JSONDecodeError:
        raise validation_error("control body must be JSON") from None
    if not isinstance(body, dict):
        raise validation_error("control body must be a JSON object")
    if "object_type" in body:
        body["object_type_"] = body.pop("object_type")
    try:
        result = getattr(sandbox, endpoint)(**args, **body)
    except TypeError as exc:
        raise HubSpotError(400, f"bad control arguments: {exc}", category="VALIDATION_ERROR") from None
    return json_response(result)

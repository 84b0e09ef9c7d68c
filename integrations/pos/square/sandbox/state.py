"""The Square sandbox's state and its in-process control object (`app.sandbox`):
apps, merchants, locations, OAuth codes and tokens, orders, payments, refunds,
webhook subscriptions, faults, rate limits and the load generator. The HTTP
layer (`app.py`) only parses requests and calls these methods."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import random
import secrets
import string
import threading
import time
import uuid

import httpx

from integrations.pos.square import constants
from integrations.pos.square.sandbox import pricing
from integrations.pos.square.sandbox.delivery import WebhookSender
from integrations.pos.square.sandbox.sales import random_order_shape

_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits


class SquareAPIError(Exception):
    """An error answered in Square's shape {"errors": [{category, code, detail, field}]},
    the OAuth endpoints' too: ObtainTokenResponse, RevokeTokenResponse and
    RetrieveTokenStatusResponse each carry `errors: List[Error]` (square-python-sdk
    src/square/types/, generated from Square's API definition). The bare {"message", "type"}
    body seen in 2019 forum threads (ObtainToken answering "V1_ERROR -
    service.not_authorized") is not documented now; UNCONFIRMED whether Square
    still sends it, so the client reads both (`client._errors`), as Square's
    SDK does."""

    def __init__(self, status: int, category: str, code: str, detail: str, field: str | None = None,
                 headers: dict | None = None):
        super().__init__(detail)
        self.status, self.category, self.code, self.detail, self.field = status, category, code, detail, field
        self.headers = headers or {}

    def body(self) -> dict:
        err = {"category": self.category, "code": self.code, "detail": self.detail}
        if self.field:
            err["field"] = self.field
        return {"errors": [err]}


def bad_request(code: str, detail: str, field: str | None = None) -> SquareAPIError:
    return SquareAPIError(400, "INVALID_REQUEST_ERROR", code, detail, field)


def unauthorized(code: str = "UNAUTHORIZED", detail: str = "This request could not be authorized.") -> SquareAPIError:
    return SquareAPIError(401, "AUTHENTICATION_ERROR", code, detail)


def not_found(detail: str) -> SquareAPIError:
    return SquareAPIError(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", detail)


def rate_limited() -> SquareAPIError:
    return SquareAPIError(429, constants.RATE_LIMIT_CATEGORY, constants.RATE_LIMIT_CODE,
                          "Rate limit exceeded; retry later.")


def _copy(obj):
    """A deep copy of JSON-shaped data (several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(obj))


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_rfc3339(value: str, field: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise bad_request("INVALID_TIME", f"Invalid RFC 3339 timestamp: {value!r}", field) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t


def _int_arg(args: dict, name: str) -> int:
    try:
        return int(args[name])
    except ValueError:
        raise bad_request("INVALID_VALUE", f"{name} must be an integer.", name) from None


def _bool_arg(args: dict, name: str) -> bool:
    value = args[name].lower()
    if value not in ("true", "false"):
        raise bad_request("EXPECTED_BOOLEAN", f"{name} must be true or false.", name)
    return value == "true"


def _row_time(row: dict, key: str) -> dt.datetime:
    return parse_rfc3339(row[key], key)


def _offline_created_at(payment: dict) -> dt.datetime | None:
    """When an offline payment was taken on the device; None for one taken online."""
    value = (payment.get("offline_payment_details") or {}).get("client_created_at")
    return parse_rfc3339(value, "client_created_at") if value else None


# ListPayments' and ListPaymentRefunds' sort fields → the time a row sorts by.
_SORT_KEYS = {
    "CREATED_AT": lambda row: _row_time(row, "created_at"),
    "UPDATED_AT": lambda row: _row_time(row, "updated_at"),
    "OFFLINE_CREATED_AT": lambda row: _offline_created_at(row) or _row_time(row, "created_at"),
}


def _id(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _amount_due(order: dict) -> int:
    """What the buyer pays for an order: its total; an exchange's net of the
    items it takes back (net_amounts = sale − return), the difference."""
    if order.get("returns"):
        return order["net_amounts"]["total_money"]["amount"]
    return order["total_money"]["amount"]


def _order_refund(refund: dict, sale: dict, payment: dict, status: str) -> dict:
    """A PaymentRefund as an order lists it (Order.refunds, the Transactions
    API's Refund: id without the payment's prefix, the sale as its
    transaction, the payment as its tender; status PENDING | APPROVED)."""
    return {"id": refund["id"].split("_")[-1], "location_id": sale["location_id"], "transaction_id": sale["id"],
            "tender_id": payment["id"], "created_at": refund["created_at"], "reason": refund["reason"],
            "amount_money": dict(refund["amount_money"]), "status": status}


def _refunded(payment: dict) -> int:
    """How much of the payment is refunded so far (minor units)."""
    return payment.get("refunded_money", {}).get("amount", 0)


def _new_refund(payment: dict, sale: dict, amount_money: dict, order_id: str, reason: str, at: dt.datetime) -> dict:
    """A PENDING PaymentRefund of `amount_money` to the sale's `payment`, its
    order_id the order recording what was taken back."""
    return {"id": f"{payment['id']}_{_id(26)}", "status": "PENDING", "location_id": sale["location_id"],
            "amount_money": dict(amount_money), "payment_id": payment["id"], "order_id": order_id, "reason": reason,
            "created_at": rfc3339(at), "updated_at": rfc3339(at), "destination_type": payment["source_type"],
            "unlinked": False}


def _refund_completed(refund: dict, payment: dict, at: dt.datetime) -> None:
    """The refund COMPLETED at `at`, and its payment recording it."""
    refund["status"] = "COMPLETED"
    refund["updated_at"] = rfc3339(at)
    payment["refunded_money"] = pricing.money(_refunded(payment) + refund["amount_money"]["amount"],
                                              refund["amount_money"]["currency"])
    payment.setdefault("refund_ids", []).append(refund["id"])
    payment["updated_at"] = rfc3339(at)


def _check_refund_amount(payment: dict, amount: int) -> None:
    """RefundPayment's check: between 1 and what is left of the payment."""
    left = payment["total_money"]["amount"] - _refunded(payment)
    if amount <= 0 or amount > left:
        raise SquareAPIError(400, "REFUND_ERROR", "REFUND_AMOUNT_INVALID",
                             f"Refund amount must be between 1 and {left}.", "amount_money")


def _added_amounts(amounts: list[dict]) -> dict:
    """OrderMoneyAmounts added up (a return order's `return_amounts`: the sum of its returns')."""
    out = {}
    for each in amounts:
        for k, value in each.items():
            out[k] = pricing.money(out.get(k, {"amount": 0})["amount"] + value["amount"], value["currency"])
    return out


def _check_line_items(order: dict, loc: dict, *, missing: str) -> None:
    """CreateOrder's checks of `order`'s line items (each an ITEM unless it
    says otherwise, priced in the location's currency)."""
    if not order.get("line_items"):
        raise bad_request("MISSING_REQUIRED_PARAMETER", missing, "order.line_items")
    for li in order["line_items"]:
        li.setdefault("item_type", "ITEM")
        if li["base_price_money"]["currency"] != loc["currency"]:
            raise bad_request("CURRENCY_MISMATCH", "Money currency must match the location's.",
                              "order.line_items.base_price_money.currency")


class Sandbox:
    """In-process control of one Square sandbox (see the package docstring)."""

    def __init__(self, *, client_id: str = "demo-square-client-id", client_secret: str = "demo-square-client-secret",
                 redirect_uri: str = "", merchant_id: str | None = None, time_scale: float = 1.0,
                 webhook_workers: int = 8, seed: int | None = None, locations: int = 2):
        self.lock = threading.RLock()
        self.base_url = ""
        # Chosen once, so the default merchant and its locations keep their ids across resets.
        self._defaults = dict(client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri,
                              merchant_id=merchant_id or "ML" + _id(11, _UPPER), locations=locations)
        self.rng = random.Random(seed)
        self.sender = WebhookSender(time_scale=time_scale, workers=webhook_workers)
        self._sender_defaults = (self.sender.time_scale, self.sender.retry_delays, self.sender.timeout)
        self._load_thread: threading.Thread | None = None
        self._load_stop = threading.Event()
        self.load_stats: dict = {"running": False}
        self.reset()

    # --- lifecycle -----------------------------------------------------------------
    def reset(self):
        self.stop_load()
        with self.lock:
            self.apps: dict[str, dict] = {}
            self.merchants: dict[str, dict] = {}
            self.locations: dict[str, dict] = {}
            self.codes: dict[str, dict] = {}
            self.access_tokens: dict[str, dict] = {}
            self.refresh_tokens: dict[str, dict] = {}
            self.orders: dict[str, dict] = {}
            self.payments: dict[str, dict] = {}
            self.refunds: dict[str, dict] = {}
            self.idempotency: dict[str, tuple[str, str]] = {}
            self.cursors: dict[str, dict] = {}
            self.subscriptions: list[dict] = []
            self.faults: list[dict] = []
            self.rate_limit: dict | None = None
            self._rate_windows: dict[str, list] = {}
            self.duplicate_rate = 0.0
            self.events: list[dict] = []
            self.sender.clear()
            self.configure_delivery(time_scale=self._sender_defaults[0], retry_delays=list(self._sender_defaults[1]),
                                    timeout=self._sender_defaults[2])
            d = self._defaults
            self.register_app(client_id=d["client_id"], client_secret=d["client_secret"],
                               redirect_uri=d["redirect_uri"])
            merchant = self.add_merchant(merchant_id=d["merchant_id"], business_name="Mama Put Lagos Ltd")
            self.seed_locations(merchant_id=merchant["id"], count=d["locations"])

    def close(self):
        self.stop_load()
        self.sender.close()

    @property
    def default_merchant_id(self) -> str:
        return next(iter(self.merchants))

    # --- apps, merchants, locations ------------------------------------------------
    def register_app(self, *, client_id: str, client_secret: str, redirect_uri: str = "") -> dict:
        with self.lock:
            self.apps[client_id] = {"client_id": client_id, "client_secret": client_secret,
                                    "redirect_uri": redirect_uri}
            return dict(self.apps[client_id])

    def add_merchant(self, *, merchant_id: str | None = None, business_name: str = "Sandbox Merchant") -> dict:
        with self.lock:
            mid = merchant_id or "ML" + _id(11, _UPPER)
            self.merchants[mid] = {"id": mid, "business_name": business_name, "country": "NG",
                                   "language_code": "en-NG", "currency": "NGN", "status": "ACTIVE",
                                   "created_at": rfc3339(now_utc())}
            return dict(self.merchants[mid])

    def seed_locations(self, *, merchant_id: str | None = None, count: int = 1, names: list[str] | None = None
                       ) -> list[dict]:
        areas = (("Victoria Island", "Lagos", "101241"), ("Ikeja", "Lagos", "100271"),
                 ("Wuse II", "FCT", "904101"), ("GRA", "Rivers", "500272"), ("Bodija", "Oyo", "200284"))
        with self.lock:
            mid = merchant_id or self.default_merchant_id
            merchant = self.merchants[mid]
            out = []
            names = names or [None] * count
            for name in names:
                n = len([x for x in self.locations.values() if x["merchant_id"] == mid])
                area, state, postal = areas[n % len(areas)]
                # Derived from the merchant id, so a reset re-seeds the same locations.
                loc_id = "L" + hashlib.sha256(f"{mid}:{n}".encode()).hexdigest()[:12].upper()
                while loc_id in self.locations:
                    loc_id = "L" + _id(12, _UPPER)
                loc = {
                    "id": loc_id,
                    "name": name or f"{merchant['business_name']} - {area}",
                    "address": {"address_line_1": f"{12 + n} Adeola Odeku Street", "locality": area,
                                "administrative_district_level_1": state, "postal_code": postal, "country": "NG"},
                    "timezone": "Africa/Lagos",
                    "capabilities": ["CREDIT_CARD_PROCESSING"],
                    "status": "ACTIVE",
                    "created_at": rfc3339(now_utc()),
                    "merchant_id": mid,
                    "country": "NG",
                    "language_code": "en-NG",
                    "currency": "NGN",
                    "business_name": merchant["business_name"],
                    "type": "PHYSICAL",
                    "mcc": "5812",
                }
                self.locations[loc["id"]] = loc
                # The main location is the seller's first (Merchant.main_location_id).
                merchant.setdefault("main_location_id", loc_id)
                out.append(_copy(loc))
            return out

    def merchant_locations(self, merchant_id: str) -> list[dict]:
        with self.lock:
            # ListLocations lists alphabetically by name.
            return sorted((_copy(x) for x in self.locations.values() if x["merchant_id"] == merchant_id),
                          key=lambda x: x["name"])

    # --- OAuth ---------------------------------------------------------------------
    def create_code(self, *, client_id: str, merchant_id: str, scopes: list[str], state: str = "",
                    code_challenge: str | None = None, code_challenge_method: str | None = None,
                    redirect_uri: str = "") -> str:
        """An authorization code; `redirect_uri` is the one the authorization
        URL carried ("" when it had none): the code exchange must repeat it."""
        with self.lock:
            code = "sq0cgp-" + _id(22)
            self.codes[code] = {"client_id": client_id, "merchant_id": merchant_id, "scopes": list(scopes),
                                "state": state, "code_challenge": code_challenge,
                                "code_challenge_method": code_challenge_method, "redirect_uri": redirect_uri,
                                "expires": time.time() + constants.AUTHORIZATION_CODE_TTL.total_seconds()}
            return code

    def _issue(self, *, client_id, merchant_id, scopes, pkce: bool, refresh_token: str | None = None,
               short_lived: bool = False, refresh_scopes=None, with_refresh_token: bool = True) -> dict:
        """An access token with `scopes` and, unless `short_lived` or not
        `with_refresh_token`, a refresh token: `refresh_token` handed back as
        it is, or a new one with `refresh_scopes` (default: `scopes`)."""
        access = "EAAA" + _id(60)
        ttl = constants.SHORT_LIVED_ACCESS_TOKEN_TTL if short_lived else constants.ACCESS_TOKEN_TTL
        expires_at = (now_utc() + ttl).replace(microsecond=0)
        self.access_tokens[access] = {"client_id": client_id, "merchant_id": merchant_id, "scopes": list(scopes),
                                      "expires_at": expires_at, "revoked": False}
        body = {"access_token": access, "token_type": "bearer", "expires_at": rfc3339(expires_at).replace(".000", ""),
                "merchant_id": merchant_id, "short_lived": short_lived}
        if short_lived or not with_refresh_token:
            return body
        if refresh_token is None:
            refresh_token = "EQAA" + _id(60)
            self.refresh_tokens[refresh_token] = {
                "client_id": client_id, "merchant_id": merchant_id, "scopes": list(refresh_scopes or scopes),
                "pkce": pkce,
                "expires_at": (now_utc() + constants.PKCE_REFRESH_TOKEN_TTL).replace(microsecond=0) if pkce else None,
                "revoked": False}
        body["refresh_token"] = refresh_token
        rt = self.refresh_tokens[refresh_token]
        if rt["expires_at"] is not None:
            body["refresh_token_expires_at"] = rfc3339(rt["expires_at"]).replace(".000", "")
        return body

    def issue_token(self, *, client_id: str | None = None, merchant_id: str | None = None,
                    scopes=constants.DEFAULT_SCOPES + ("PAYMENTS_WRITE",), pkce: bool = False) -> dict:
        """Control shortcut: a token pair without the browser step."""
        with self.lock:
            return self._issue(client_id=client_id or self._defaults["client_id"],
                               merchant_id=merchant_id or self.default_merchant_id, scopes=scopes, pkce=pkce)

    def obtain_token(self, body: dict, version: str = constants.SQUARE_VERSION) -> dict:
        """ObtainToken (POST /oauth2/token), as the OAuth API reference and
        square-python-sdk's `o_auth.obtain_token` document it:
        - in a Square-Version older than a grant type (the refresh_token
          grant, refresh tokens themselves: `constants.
          OBTAIN_TOKEN_GRANT_FIRST_VERSIONS`), the grant is refused and a code
          exchange answers the access token alone;
        - `short_lived: true` (any grant): the access token expires in 24 h and
          no refresh token comes back (API Explorer: "returns only an access
          token"); the refresh token used stays as it was;
        - `scopes` on a refresh: the new access token gets the intersection of
          the requested scopes and the refresh token's; the refresh token keeps
          its own;
        - `redirect_uri` is required at the code exchange when the
          authorization URL carried one, and must equal it.
        UNCONFIRMED (the docs name no error): a missing redirect_uri answers
        400 MISSING_REQUIRED_PARAMETER, a different one 400 INVALID_VALUE;
        `scopes` at a code exchange is ignored (documented for refreshes only);
        a PKCE refresh token used with `short_lived` is not consumed (nothing
        would replace it)."""
        client_id = body.get("client_id")
        grant = body.get("grant_type")
        short_lived = body.get("short_lived", False)
        if not isinstance(short_lived, bool):
            raise bad_request("EXPECTED_BOOLEAN", "short_lived must be a boolean.", "short_lived")
        requested_scopes = body.get("scopes")
        if requested_scopes is not None and not (isinstance(requested_scopes, list)
                                                 and all(isinstance(x, str) for x in requested_scopes)):
            raise bad_request("EXPECTED_ARRAY", "scopes must be a list of strings.", "scopes")
        first_version = constants.OBTAIN_TOKEN_GRANT_FIRST_VERSIONS.get(grant or "")
        if first_version and version < first_version:
            raise bad_request("API_VERSION_INCOMPATIBLE", f"grant_type {grant} is not available in Square-Version "
                              f"{version}; it needs {first_version} or later.", "grant_type")
        with self.lock:
            app = self.apps.get(client_id or "")
            if app is None:
                raise unauthorized("UNAUTHORIZED", "Unknown client_id.")
            if grant == "authorization_code":
                code = self.codes.pop(body.get("code") or "", None)  # single use, even when it then fails
                if code is None or code["client_id"] != client_id:
                    raise unauthorized("UNAUTHORIZED", "Invalid or already used authorization code.")
                if code["expires"] < time.time():
                    raise unauthorized("UNAUTHORIZED", "Authorization code expired.")
                redirect_uri = body.get("redirect_uri")
                if code["redirect_uri"] and not redirect_uri:
                    raise bad_request("MISSING_REQUIRED_PARAMETER", "redirect_uri is required: the authorization "
                                      "request carried one.", "redirect_uri")
                if redirect_uri and redirect_uri != (code["redirect_uri"] or app["redirect_uri"]):
                    raise bad_request("INVALID_VALUE", "redirect_uri does not match.", "redirect_uri")
                if code["code_challenge"]:
                    verifier = body.get("code_verifier") or ""
                    if code["code_challenge_method"] == "S256":
                        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                    else:
                        computed = verifier
                    if not verifier or not secrets.compare_digest(computed, code["code_challenge"]):
                        raise unauthorized("UNAUTHORIZED", "code_verifier does not match the code_challenge.")
                    pkce = True
                else:
                    if not secrets.compare_digest(body.get("client_secret") or "", app["client_secret"]):
                        raise unauthorized("UNAUTHORIZED", "Invalid client_secret.")
                    pkce = False
                return self._issue(client_id=client_id, merchant_id=code["merchant_id"], scopes=code["scopes"],
                                   pkce=pkce, short_lived=short_lived,
                                   with_refresh_token=version >= constants.REFRESH_TOKENS_FIRST_VERSION)
            if grant == "refresh_token":
                token = body.get("refresh_token") or ""
                rt = self.refresh_tokens.get(token)
                if rt is None or rt["revoked"] or rt["client_id"] != client_id:
                    raise unauthorized("UNAUTHORIZED", "Invalid refresh token.")
                if rt["expires_at"] is not None and rt["expires_at"] < now_utc():
                    raise unauthorized("UNAUTHORIZED", "Refresh token expired.")
                scopes = rt["scopes"] if requested_scopes is None else \
                    [s for s in rt["scopes"] if s in requested_scopes]
                if rt["pkce"]:
                    if not short_lived:
                        rt["revoked"] = True  # rotation: the old one stops working
                    return self._issue(client_id=client_id, merchant_id=rt["merchant_id"], scopes=scopes,
                                       pkce=True, short_lived=short_lived, refresh_scopes=rt["scopes"])
                if not secrets.compare_digest(body.get("client_secret") or "", app["client_secret"]):
                    raise unauthorized("UNAUTHORIZED", "Invalid client_secret.")
                return self._issue(client_id=client_id, merchant_id=rt["merchant_id"], scopes=scopes,
                                   pkce=False, refresh_token=token, short_lived=short_lived)
            if grant == "migration_token":
                raise bad_request("INVALID_VALUE", "migration_token is not supported by this sandbox.", "grant_type")
            raise bad_request("INVALID_VALUE", f"Unsupported grant_type {grant!r}.", "grant_type")

    def revoke(self, *, app_secret: str, body: dict) -> dict:
        with self.lock:
            app = self.apps.get(body.get("client_id") or "")
            if app is None or not secrets.compare_digest(app_secret, app["client_secret"]):
                raise unauthorized("UNAUTHORIZED", "Invalid client credentials.")
            merchant_id = body.get("merchant_id")
            if body.get("access_token"):
                tok = self.access_tokens.get(body["access_token"])
                if tok is None or tok["client_id"] != app["client_id"]:
                    raise not_found("Access token not found.")
                merchant_id = tok["merchant_id"]
            if not merchant_id:
                raise bad_request("MISSING_REQUIRED_PARAMETER", "access_token or merchant_id is required.")
            if body.get("revoke_only_access_token") and body.get("access_token"):
                # That one access token; the authorization (its refresh tokens, other tokens) stays.
                self.access_tokens[body["access_token"]]["revoked"] = True
                return {"success": True}
            for tok in self.access_tokens.values():
                if tok["merchant_id"] == merchant_id and tok["client_id"] == app["client_id"]:
                    tok["revoked"] = True
            for rt in self.refresh_tokens.values():
                if rt["merchant_id"] == merchant_id and rt["client_id"] == app["client_id"]:
                    rt["revoked"] = True
            return {"success": True}

    def authenticate(self, token: str, scope: str | None) -> dict:
        with self.lock:
            tok = self.access_tokens.get(token)
            if tok is None:
                raise unauthorized()
            if tok["revoked"]:
                raise unauthorized("ACCESS_TOKEN_REVOKED", "The access token has been revoked.")
            if tok["expires_at"] < now_utc():
                raise unauthorized("ACCESS_TOKEN_EXPIRED", "The access token has expired.")
            if scope and scope not in tok["scopes"]:
                raise SquareAPIError(403, "AUTHENTICATION_ERROR", "INSUFFICIENT_SCOPES",
                                     f"The merchant has not given your application sufficient permissions. "
                                     f"Required: {scope}.")
            return tok

    def token_status(self, token: str) -> dict:
        tok = self.authenticate(token, None)
        return {"scopes": list(tok["scopes"]), "expires_at": rfc3339(tok["expires_at"]).replace(".000", ""),
                "client_id": tok["client_id"], "merchant_id": tok["merchant_id"]}

    # --- faults and rate limits ----------------------------------------------------
    def set_faults(self, faults: list[dict]):
        """Each fault: {path (prefix), method?, status, count (None = forever), latency_ms?}."""
        with self.lock:
            self.faults = [dict(f, remaining=f.get("count")) for f in faults]

    def set_rate_limit(self, *, requests: int | None, per_seconds: float = 1.0):
        with self.lock:
            self.rate_limit = None if not requests else {"requests": int(requests), "per_seconds": float(per_seconds)}
            self._rate_windows = {}

    def check_faults(self, method: str, path: str) -> tuple[float, SquareAPIError | None]:
        with self.lock:
            for f in self.faults:
                if not path.startswith(f.get("path", "/")) or f.get("method", method) != method:
                    continue
                if f["remaining"] is not None:
                    if f["remaining"] <= 0:
                        continue
                    f["remaining"] -= 1
                latency = f.get("latency_ms", 0) / 1000
                status = f.get("status")
                if not status:
                    return latency, None
                if status == 429:
                    return latency, rate_limited()
                code = {500: "INTERNAL_SERVER_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
                        504: "GATEWAY_TIMEOUT"}.get(status, "BAD_REQUEST")
                category = "API_ERROR" if status >= 500 else "INVALID_REQUEST_ERROR"
                return latency, SquareAPIError(status, category, code, f"Injected fault ({status}).")
            return 0.0, None

    def check_rate(self, key: str):
        with self.lock:
            rl = self.rate_limit
            if not rl:
                return
            now = time.monotonic()
            window = [t for t in self._rate_windows.get(key, []) if now - t < rl["per_seconds"]]
            if len(window) >= rl["requests"]:
                self._rate_windows[key] = window
                raise rate_limited()
            window.append(now)
            self._rate_windows[key] = window

    # --- webhooks ------------------------------------------------------------------
    def set_subscription(self, *, notification_url: str, event_types=constants.EVENT_TYPES,
                         signature_key: str | None = None, enabled: bool = True) -> dict:
        """Replace the subscriptions with this one (the usual single-endpoint case)."""
        with self.lock:
            self.subscriptions = []
            return self.add_subscription(notification_url=notification_url, event_types=event_types,
                                         signature_key=signature_key, enabled=enabled)

    def add_subscription(self, *, notification_url: str, event_types=constants.EVENT_TYPES,
                         signature_key: str | None = None, enabled: bool = True) -> dict:
        unknown = set(event_types) - set(constants.EVENT_TYPES)
        if unknown:
            raise bad_request("INVALID_VALUE", f"Unknown event types: {sorted(unknown)}", "event_types")
        with self.lock:
            sub = {"id": "wbhk_" + uuid.uuid4().hex, "name": "TaxPoynt", "enabled": enabled,
                   "event_types": list(event_types), "notification_url": notification_url,
                   "api_version": constants.SQUARE_VERSION,
                   "signature_key": signature_key or base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
                   "created_at": rfc3339(now_utc())}
            self.subscriptions.append(sub)
            return dict(sub)

    def configure_delivery(self, *, duplicate_rate: float | None = None, time_scale: float | None = None,
                           retry_delays: list[float] | None = None, timeout: float | None = None):
        with self.lock:
            if duplicate_rate is not None:
                self.duplicate_rate = float(duplicate_rate)
            if time_scale is not None:
                self.sender.time_scale = float(time_scale)
            if retry_delays is not None:
                self.sender.retry_delays = tuple(retry_delays)
            if timeout is not None:
                self.sender.timeout = float(timeout)
                self.sender._http.timeout = httpx.Timeout(float(timeout))

    def emit(self, *, merchant_id: str, event_type: str, data_type: str, object_id: str, obj: dict,
             duplicates: int = 0) -> dict:
        """Build one event and hand it to every subscription that wants it."""
        event = {"merchant_id": merchant_id, "type": event_type, "event_id": str(uuid.uuid4()),
                 "created_at": rfc3339(now_utc()), "data": {"type": data_type, "id": object_id, "object": obj}}
        body = json.dumps(event, separators=(",", ":")).encode()
        with self.lock:
            self.events.append(event)
            if len(self.events) > 50_000:
                del self.events[:10_000]
            subs = [s for s in self.subscriptions if s["enabled"] and event_type in s["event_types"]]
            extra = duplicates + (1 if self.duplicate_rate and self.rng.random() < self.duplicate_rate else 0)
        for sub in subs:
            for n in range(1 + extra):
                self.sender.enqueue(event_id=event["event_id"], event_type=event_type, url=sub["notification_url"],
                                    signature_key=sub["signature_key"], body=body, duplicate=n > 0,
                                    delay=0.05 * n * self.sender.time_scale if n else 0.0)
        return event

    def redeliver(self, event_id: str) -> dict:
        with self.lock:
            event = next((e for e in self.events if e["event_id"] == event_id), None)
            if event is None:
                raise not_found(f"Event {event_id} not found.")
            subs = [s for s in self.subscriptions if s["enabled"] and event["type"] in s["event_types"]]
        body = json.dumps(event, separators=(",", ":")).encode()
        for sub in subs:
            self.sender.enqueue(event_id=event_id, event_type=event["type"], url=sub["notification_url"],
                                signature_key=sub["signature_key"], body=body, duplicate=True)
        return event

    def deliveries(self, event_id: str | None = None) -> list[dict]:
        return self.sender.log(event_id=event_id)

    # --- orders and sales ----------------------------------------------------------
    def _order_summary(self, order: dict) -> dict:
        return {"order_id": order["id"], "version": order["version"], "location_id": order["location_id"],
                "state": order["state"], "created_at": order["created_at"], "updated_at": order["updated_at"]}

    def _touch(self, order: dict, at: dt.datetime | None = None):
        order["version"] += 1
        order["updated_at"] = rfc3339(at or now_utc())

    def create_sale(self, *, order: dict | None = None, location_id: str | None = None, tip: int = 0,
                    tender_type: str = "CARD", card_brand: str = "VISA", customer_id: str | None = None,
                    complete: bool = True, random_sale: bool = False, duplicates: int = 0,
                    fulfillment: bool = False, at: dt.datetime | None = None, emit: bool = True,
                    offline_at: dt.datetime | None = None) -> dict:
        """Create an order (OPEN) and, when `complete`, pay and close it, emitting
        order.created, payment.created, payment.updated, order.updated as Square does.
        `order` is the CreateOrder body (line_items, taxes, discounts, service_charges).
        `offline_at`: the payment was taken offline on the device then, and
        reaches Square now (is_offline_payment, offline_payment_details)."""
        if random_sale or order is None:
            shape = random_order_shape(self.rng)
            order, tip, tender_type, card_brand = shape["order"], shape["tip"], shape["tender_type"], shape["card_brand"]
        order = _copy(order)
        historic_at = at
        at = at or now_utc()
        with self.lock:
            if location_id is None:
                location_id = order.get("location_id") or (
                    self.rng.choice(list(self.locations)) if random_sale else next(iter(self.locations)))
            loc = self.locations.get(location_id)
            if loc is None:
                raise not_found(f"Location {location_id} not found.")
            merchant_id = loc["merchant_id"]
            order.update({"id": _id(27), "location_id": location_id, "state": "OPEN", "version": 1,
                          "created_at": rfc3339(at), "updated_at": rfc3339(at),
                          "source": {"name": "Square Point of Sale"}})
            if customer_id:
                order["customer_id"] = customer_id
            _check_line_items(order, loc, missing="An order needs line items.")
            if fulfillment:
                order["fulfillments"] = [{"uid": "f1", "type": "PICKUP", "state": "PROPOSED"}]
            pricing.price_order(order)
            self.orders[order["id"]] = order
            summary = self._order_summary(order)
        if emit:
            self.emit(merchant_id=merchant_id, event_type="order.created", data_type="order",
                      object_id=order["id"], obj={"order_created": summary}, duplicates=duplicates)
        payment = None
        if complete:
            payment = self.pay_order(order_id=order["id"], tip=tip, tender_type=tender_type, card_brand=card_brand,
                                     duplicates=duplicates, at=historic_at, emit=emit, offline_at=offline_at)
        with self.lock:
            return {"order": _copy(self.orders[order["id"]]), "payment": _copy(payment)}

    def pay_order(self, *, order_id: str, tip: int = 0, tender_type: str = "CARD", card_brand: str = "VISA",
                  duplicates: int = 0, at: dt.datetime | None = None, emit: bool = True,
                  offline_at: dt.datetime | None = None) -> dict:
        with self.lock:
            order = self.orders[order_id]
            if order["state"] != "OPEN":
                raise bad_request("BAD_REQUEST", f"Order {order_id} is {order['state']}.")
            cur = order["total_money"]["currency"]
            amount = _amount_due(order) - order.get("total_tip_money", {}).get("amount", 0)
            historic = at is not None  # seeding history: complete two seconds after payment
            at = at or now_utc()
            paid_at = at
            pid = _id(27)
            payment = {
                "id": pid, "created_at": rfc3339(at), "updated_at": rfc3339(at),
                "amount_money": pricing.money(amount, cur), "tip_money": pricing.money(tip, cur),
                "total_money": pricing.money(amount + tip, cur), "approved_money": pricing.money(amount + tip, cur),
                "status": "APPROVED", "source_type": tender_type, "location_id": order["location_id"],
                "order_id": order_id, "receipt_number": pid[:4], "version_token": _id(40),
                "receipt_url": f"{self.base_url}/receipt/preview/{pid}",
                "delay_action": "CANCEL", "capabilities": ["EDIT_TIP_AMOUNT", "REFUND"],
            }
            if order.get("customer_id"):
                payment["customer_id"] = order["customer_id"]
            if offline_at is not None:
                payment["is_offline_payment"] = True
                payment["offline_payment_details"] = {"client_created_at": rfc3339(offline_at)}
            if tender_type == "CARD":
                payment["card_details"] = {"status": "AUTHORIZED", "entry_method": "EMV",
                                           "card": {"card_brand": card_brand, "last_4": f"{self.rng.randint(0, 9999):04d}",
                                                    "card_type": "DEBIT", "prepaid_type": "NOT_PREPAID"}}
            else:
                payment["cash_details"] = {"buyer_supplied_money": pricing.money(amount + tip, cur),
                                           "change_back_money": pricing.money(0, cur)}
            self.payments[pid] = payment
            created = _copy(payment)
            merchant_id = self.locations[order["location_id"]]["merchant_id"]
        if emit:
            self.emit(merchant_id=merchant_id, event_type="payment.created", data_type="payment", object_id=pid,
                      obj={"payment": created}, duplicates=duplicates)
        with self.lock:
            at = paid_at + dt.timedelta(seconds=2) if historic else now_utc()
            payment["status"] = "COMPLETED"
            payment["updated_at"] = rfc3339(at)
            payment["version_token"] = _id(40)
            if "card_details" in payment:
                payment["card_details"]["status"] = "CAPTURED"
            order["tenders"] = [{"id": pid, "location_id": order["location_id"], "transaction_id": order_id,
                                 "created_at": payment["created_at"], "amount_money": dict(payment["total_money"]),
                                 "tip_money": dict(payment["tip_money"]), "type": tender_type,
                                 "payment_id": pid}]
            if order.get("customer_id"):
                order["tenders"][0]["customer_id"] = order["customer_id"]
            pricing.price_order(order)  # picks up the tip
            order["state"] = "COMPLETED"
            order["closed_at"] = rfc3339(at)
            self._touch(order, at)
            if _amount_due(order) != payment["total_money"]["amount"]:
                raise AssertionError("sandbox invariant: tenders must add up to the amount the order is due")
            completed = _copy(payment)
            summary = self._order_summary(order)
        if emit:
            self.emit(merchant_id=merchant_id, event_type="payment.updated", data_type="payment", object_id=pid,
                      obj={"payment": completed}, duplicates=duplicates)
            self.emit(merchant_id=merchant_id, event_type="order.updated", data_type="order", object_id=order_id,
                      obj={"order_updated": summary}, duplicates=duplicates)
        return completed

    def update_fulfillment(self, *, order_id: str, new_state: str = "COMPLETED") -> dict:
        with self.lock:
            order = self.orders[order_id]
            ful = order.setdefault("fulfillments", [{"uid": "f1", "type": "PICKUP", "state": "PROPOSED"}])[0]
            old = ful["state"]
            ful["state"] = new_state
            self._touch(order)
            summary = dict(self._order_summary(order),
                           fulfillment_update=[{"fulfillment_uid": ful["uid"], "old_state": old, "new_state": new_state}])
            merchant_id = self.locations[order["location_id"]]["merchant_id"]
        return self.emit(merchant_id=merchant_id, event_type="order.fulfillment.updated", data_type="order",
                         object_id=order_id, obj={"order_fulfillment_updated": summary})

    # --- refunds -------------------------------------------------------------------
    def refund_payment(self, *, payment_id: str, amount: int | None = None, reason: str = "",
                       idempotency_key: str | None = None, line_items: list[dict] | None = None,
                       merchant_id: str | None = None, complete: bool = True) -> dict:
        """RefundPayment. A full refund returns every line, service charge and tip;
        `line_items` ([{source_line_item_uid, quantity}]) returns those items; a
        bare partial amount returns a custom amount taxed like the sale
        (`_custom_amount_return`). The return is a new order (refund.order_id) whose
        `returns[0].source_order_id` is the sale. The refund is created
        PENDING and completed at once, unless `complete` is False: then it
        stays PENDING until `complete_refund` (a card refund Square settles
        later)."""
        key = idempotency_key or str(uuid.uuid4())
        fingerprint = json.dumps([payment_id, amount, reason, line_items], sort_keys=True)
        with self.lock:
            if key in self.idempotency:
                prev_fp, refund_id = self.idempotency[key]
                if prev_fp != fingerprint:
                    raise bad_request("IDEMPOTENCY_KEY_REUSED", "The idempotency key was used with another request.",
                                      "idempotency_key")
                return _copy(self.refunds[refund_id])
            payment = self._refundable(payment_id, merchant_id)
            sale = self.orders[payment["order_id"]]
            n = len(sale.get("refunds", [])) + 1
            if line_items:
                ret = pricing.price_return(sale, line_items, include_service_charges=False, include_tips=False,
                                           uid_prefix=f"ret{n}")
            elif amount is None or amount == payment["total_money"]["amount"] and not _refunded(payment):
                ret = pricing.price_return(sale, [{"source_line_item_uid": li["uid"], "quantity": li["quantity"]}
                                                  for li in sale["line_items"]],
                                           include_service_charges=True, include_tips=True, uid_prefix=f"ret{n}")
            else:
                ret = self._custom_amount_return(sale, amount, n)
            _check_refund_amount(payment, ret["return_amounts"]["total_money"]["amount"])
            _, (refund,) = self._record_return([(payment, sale, ret)], reason or "Returned goods")
            self.idempotency[key] = (fingerprint, refund["id"])
            merchant = self.locations[sale["location_id"]]["merchant_id"]
            created = _copy(refund)
        self._refunds_created(merchant, [created], complete)
        return created

    def create_return(self, *, returns: list[dict], reason: str = "", complete: bool = True) -> dict:
        """A return at the till of items of one or more completed sales of one
        location (a buyer bringing back items of two receipts at once), as
        Square records it: one return order with one OrderReturn per sale
        (Order.returns: "exactly one `Return` object per sale `Order` being
        referenced") and one refund per sale, of that sale's payment, for its
        own returned items (a refund is of one payment), each refund's
        order_id the return order. `returns`: [{order_id (the sale),
        line_items: [{source_line_item_uid, quantity}]}]. RefundPayment cannot
        make it (one payment, no items), hence this control call. Each refund
        is created PENDING and completed at once unless `complete` is False,
        with `refund_payment`'s events; the return order's order.created
        comes with its first refund's completion, an order.updated with each
        later one. UNCONFIRMED: Square documents no return from several
        sales (mapping's docstring). Returns {order, refunds}."""
        if not returns:
            raise bad_request("MISSING_REQUIRED_PARAMETER", "returns must name at least one sale.", "returns")
        with self.lock:
            paid_back = []
            for k, item in enumerate(returns, 1):
                items = item.get("line_items") or []
                sale = self._returnable_sale(item.get("order_id"), items, field="returns.line_items")
                if any(s["id"] == sale["id"] for _, s, _ in paid_back):
                    raise bad_request("INVALID_VALUE", "A return order has one return per sale.", "returns")
                if paid_back and sale["location_id"] != paid_back[0][1]["location_id"]:
                    raise bad_request("INVALID_VALUE", "The sales of one return order are of one location.", "returns")
                payment = self._refundable(sale["tenders"][0]["payment_id"])
                ret = pricing.price_return(sale, items, include_service_charges=False, include_tips=False,
                                           uid_prefix=f"ret{k}")
                _check_refund_amount(payment, ret["return_amounts"]["total_money"]["amount"])
                paid_back.append((payment, sale, ret))
            return_order, refunds = self._record_return(paid_back, reason or "Returned goods")
            merchant = self.locations[return_order["location_id"]]["merchant_id"]
            created = [_copy(r) for r in refunds]
        self._refunds_created(merchant, created, complete)
        with self.lock:
            return {"order": _copy(self.orders[return_order["id"]]),
                    "refunds": [_copy(self.refunds[r["id"]]) for r in created]}

    def _returnable_sale(self, order_id: str | None, items: list[dict], *, field: str) -> dict:
        """Under the lock: the completed, paid sale `order_id` that `items`
        ([{source_line_item_uid, quantity}]) are taken back from, each one of
        its line items; else the error (`field` names the items)."""
        sale = self.orders.get(order_id or "")
        if sale is None or not sale.get("line_items"):
            raise not_found(f"Sale order {order_id} not found.")
        if sale["state"] != "COMPLETED" or not sale.get("tenders"):
            raise bad_request("BAD_REQUEST", f"Order {sale['id']} is {sale['state']}, not a paid sale.")
        sold = {li["uid"] for li in sale["line_items"]}
        if not items or any(li.get("source_line_item_uid") not in sold for li in items):
            raise bad_request("INVALID_VALUE", f"{field} must name line items of the sale.", field)
        return sale

    def _refundable(self, payment_id: str, merchant_id: str | None = None) -> dict:
        """The payment, if the seller's (`merchant_id`, when given) and
        COMPLETED; else RefundPayment's error."""
        payment = self.payments.get(payment_id)
        if payment is None or (merchant_id and self.locations[payment["location_id"]]["merchant_id"] != merchant_id):
            raise not_found(f"Payment {payment_id} not found.")
        if payment["status"] != "COMPLETED":
            raise SquareAPIError(400, "REFUND_ERROR", "REFUND_ERROR_PAYMENT_NEEDS_COMPLETION",
                                 "The payment must be completed before it can be refunded.")
        return payment

    def _record_return(self, paid_back: list[tuple[dict, dict, dict]], reason: str) -> tuple[dict, list[dict]]:
        """Under the lock: a COMPLETED return order of the OrderReturns of
        `paid_back` ([(payment, sale, OrderReturn)], one per sale, of one
        location), its `return_amounts` their sum, and a PENDING refund of
        each return's amount to its sale's payment, whose order_id is the
        return order and which the return order lists in `refunds`.
        (return order, [refunds])."""
        at = now_utc()
        sale = paid_back[0][1]
        cur = sale["total_money"]["currency"]
        returns = [ret for _, _, ret in paid_back]
        return_order = {
            "id": _id(27), "location_id": sale["location_id"], "state": "COMPLETED", "version": 1,
            "created_at": rfc3339(at), "updated_at": rfc3339(at), "closed_at": rfc3339(at),
            "source": {"name": "Square Point of Sale"}, "returns": returns, "line_items": [],
            "return_amounts": _added_amounts([ret["return_amounts"] for ret in returns]),
        }
        if sale.get("customer_id"):
            return_order["customer_id"] = sale["customer_id"]
        zero = pricing.money(0, cur)
        return_order.update(total_money=zero, total_tax_money=zero, total_discount_money=zero,
                            total_tip_money=zero, total_service_charge_money=zero)
        pricing.set_net_amounts(return_order)
        return_order["refunds"], refunds = [], []
        for payment, sale, ret in paid_back:
            refund = _new_refund(payment, sale, ret["return_amounts"]["total_money"], return_order["id"], reason, at)
            return_order["refunds"].append(_order_refund(refund, sale, payment, "PENDING"))
            self.refunds[refund["id"]] = refund
            refunds.append(refund)
        self.orders[return_order["id"]] = return_order
        return return_order, refunds

    def _refunds_created(self, merchant_id: str, created: list[dict], complete: bool) -> None:
        """Each new refund's refund.created, then, when `complete`, its completion."""
        for refund in created:
            self.emit(merchant_id=merchant_id, event_type="refund.created", data_type="refund",
                      object_id=refund["id"], obj={"refund": refund})
        if complete:
            for refund in created:
                self.complete_refund(refund["id"])

    def _custom_amount_return(self, sale: dict, amount: int, n: int) -> dict:
        """A bare partial amount returned as one "Custom Amount" line taxed like
        the sale: every tax the sale applied, inclusive in the amount, each its
        share of the amount's tax by its rate (a VAT and a levy of 7.5 and 5 %
        take 7.5/112.5 and 5/112.5 of it). UNCONFIRMED: Square does not
        publish how it taxes an amount-only refund's return; this keeps the
        refund's taxes in the sale's proportions, so a credit note of it
        reverses each tax of the sale fairly."""
        cur = sale["total_money"]["currency"]
        taxes = [t for t in sale.get("taxes", []) if t.get("applied_money", {}).get("amount", 1) > 0]
        rate = sum((pricing.Decimal(t["percentage"]) for t in taxes), pricing.Decimal(0))
        tax_amt = pricing._round(pricing.Decimal(amount) * rate / (100 + rate))
        shares, left = [], tax_amt
        for i, t in enumerate(taxes, 1):  # the last takes what rounding leaves, so the shares sum to the tax
            share = left if i == len(taxes) else pricing._round(
                pricing.Decimal(tax_amt) * pricing.Decimal(t["percentage"]) / rate)
            shares.append(share)
            left -= share
        line = {"uid": f"ret{n}-li1", "name": "Custom Amount", "quantity": "1", "item_type": "CUSTOM_AMOUNT",
                "base_price_money": pricing.money(amount, cur), "variation_total_price_money": pricing.money(amount, cur),
                "gross_return_money": pricing.money(amount, cur), "total_discount_money": pricing.money(0, cur),
                "total_tax_money": pricing.money(tax_amt, cur), "total_money": pricing.money(amount, cur),
                "applied_discounts": [], "return_modifiers": [],
                "applied_taxes": [{"uid": f"ret{n}-at{i}", "tax_uid": f"ret{n}-tax{i}",
                                   "applied_money": pricing.money(share, cur)}
                                  for i, share in enumerate(shares, 1)]}
        return {
            "uid": f"ret{n}", "source_order_id": sale["id"], "return_line_items": [line], "return_service_charges": [],
            "return_taxes": [{"uid": f"ret{n}-tax{i}", "source_tax_uid": t["uid"], "name": t.get("name"),
                              "type": "INCLUSIVE", "percentage": t["percentage"], "scope": "LINE_ITEM",
                              "applied_money": pricing.money(share, cur)}
                             for i, (t, share) in enumerate(zip(taxes, shares), 1)],
            "return_discounts": [], "return_tips": [],
            "return_amounts": {"total_money": pricing.money(amount, cur), "tax_money": pricing.money(tax_amt, cur),
                               "discount_money": pricing.money(0, cur), "tip_money": pricing.money(0, cur),
                               "service_charge_money": pricing.money(0, cur)},
        }

    def complete_refund(self, refund_id: str) -> dict:
        """A PENDING refund COMPLETED now: its updated_at moves, the payment
        and the sale record it, and its webhooks are sent. The refund as
        completed."""
        with self.lock:
            refund = self.refunds.get(refund_id)
            if refund is None:
                raise not_found(f"Refund {refund_id} not found.")
            if refund["status"] != "PENDING":
                raise bad_request("INVALID_VALUE", f"The refund is {refund['status']}, not PENDING.", "status")
            payment = self.payments[refund["payment_id"]]
            sale = self.orders[payment["order_id"]]
            return_order = self.orders[refund["order_id"]]
            at = now_utc()
            cur = refund["amount_money"]["currency"]
            _refund_completed(refund, payment, at)
            approved = _order_refund(refund, sale, payment, "APPROVED")  # as the sale and its return order list it
            sale.setdefault("refunds", []).append(_copy(approved))
            # A return order of several sales has a refund for each: the first completed announces it.
            first = not any(r["status"] == "APPROVED" for r in return_order.get("refunds", []))
            return_order["refunds"] = [r for r in return_order.get("refunds", []) if r["id"] != approved["id"]]
            return_order["refunds"].append(approved)
            if not first:
                self._touch(return_order, at)
            ra = next(r for r in return_order["returns"] if r.get("source_order_id") == sale["id"])["return_amounts"]
            prev = sale.get("return_amounts")
            sale["return_amounts"] = {k: pricing.money(ra[k]["amount"] + (prev[k]["amount"] if prev else 0), cur)
                                      for k in ra}
            pricing.set_net_amounts(sale)
            self._touch(sale, at)
            merchant = self.locations[sale["location_id"]]["merchant_id"]
            completed = _copy(refund)
            return_event, summary_key = ("order.created", "order_created") if first else \
                ("order.updated", "order_updated")
            events = [("refund.updated", "refund", refund_id, {"refund": completed}),
                      ("payment.updated", "payment", payment["id"], {"payment": _copy(payment)}),
                      (return_event, "order", return_order["id"], {summary_key: self._order_summary(return_order)}),
                      ("order.updated", "order", sale["id"], {"order_updated": self._order_summary(sale)})]
        for event_type, data_type, oid, obj in events:
            self.emit(merchant_id=merchant, event_type=event_type, data_type=data_type, object_id=oid, obj=obj)
        return completed

    # --- exchanges -----------------------------------------------------------------
    def create_exchange(self, *, order_id: str, returns: list[dict], order: dict, tender_type: str = "CARD",
                        card_brand: str = "VISA", reason: str = "Exchange", emit: bool = True) -> dict:
        """An exchange at the till: one order that takes back `returns`
        ([{source_line_item_uid, quantity}]) of the completed sale `order_id`
        and sells `order`'s items (the CreateOrder shape), as Square records
        one ("An exchange Order contains both a return from a previous sale
        as well as a new sale"): its totals are the new items'
        (`pricing.price_order`), `returns[0]` and `return_amounts` the items
        taken back as they were sold (`pricing.price_return`), `net_amounts`
        the difference. Dearer, the buyer pays the difference (a payment of
        this order); cheaper, the difference goes back to the sale's payment
        (a refund whose order_id is this order, listed in its `refunds`);
        even, neither. Events: order.created (OPEN), payment.created and
        payment.updated when paid, order.updated (COMPLETED), then
        refund.created, refund.updated and the sale payment's
        payment.updated when refunded. The sale order is left as it was.
        UNCONFIRMED: Square documents no exchange payload or event sequence;
        its docs say orders made at the Point of Sale send no order.* events
        at all (order.created reference), so a real exchange may reach us
        only by its payment, its refund or a SearchOrders; this sandbox sends
        them as it does for its sales. Returns {order, payment, refund}."""
        with self.lock:
            sale = self._returnable_sale(order_id, returns, field="returns")
            loc = self.locations[sale["location_id"]]
            exchange = _copy(order)
            _check_line_items(exchange, loc, missing="An exchange sells line items.")
            at = now_utc()
            exchange.update({"id": _id(27), "location_id": sale["location_id"], "state": "OPEN", "version": 1,
                             "created_at": rfc3339(at), "updated_at": rfc3339(at),
                             "source": {"name": "Square Point of Sale"}})
            if sale.get("customer_id"):
                exchange["customer_id"] = sale["customer_id"]
            pricing.price_order(exchange)
            ret = pricing.price_return(sale, returns, include_service_charges=False, include_tips=False,
                                       uid_prefix="ret1")
            exchange["returns"] = [ret]
            exchange["return_amounts"] = ret["return_amounts"]
            pricing.set_net_amounts(exchange)
            self.orders[exchange["id"]] = exchange
            difference = _amount_due(exchange)
            merchant_id = loc["merchant_id"]
            summary = self._order_summary(exchange)
        if emit:
            self.emit(merchant_id=merchant_id, event_type="order.created", data_type="order",
                      object_id=exchange["id"], obj={"order_created": summary})
        payment = refund = None
        if difference > 0:
            payment = self.pay_order(order_id=exchange["id"], tender_type=tender_type, card_brand=card_brand,
                                     emit=emit)
        else:
            refund = self._complete_exchange(exchange["id"], sale, -difference, reason, emit)
        with self.lock:
            return {"order": _copy(self.orders[exchange["id"]]), "payment": payment, "refund": refund}

    def _complete_exchange(self, order_id: str, sale: dict, refunded: int, reason: str, emit: bool) -> dict | None:
        """Close an exchange the buyer pays nothing for; `refunded` (minor
        units) goes back to the sale's payment. The refund, if any."""
        with self.lock:
            exchange = self.orders[order_id]
            at = now_utc()
            events = []
            refund = None
            if refunded:
                payment = self.payments[sale["tenders"][0]["payment_id"]]
                cur = payment["total_money"]["currency"]
                _check_refund_amount(payment, refunded)
                refund = _new_refund(payment, sale, pricing.money(refunded, cur), order_id, reason, at)
                created = _copy(refund)
                self.refunds[refund["id"]] = refund
                _refund_completed(refund, payment, at)
                exchange["refunds"] = [_order_refund(refund, sale, payment, "APPROVED")]
                events = [("refund.created", "refund", refund["id"], {"refund": created}),
                          ("refund.updated", "refund", refund["id"], {"refund": _copy(refund)}),
                          ("payment.updated", "payment", payment["id"], {"payment": _copy(payment)})]
            exchange["state"] = "COMPLETED"
            exchange["closed_at"] = rfc3339(at)
            self._touch(exchange, at)
            events.insert(0, ("order.updated", "order", order_id, {"order_updated": self._order_summary(exchange)}))
            merchant_id = self.locations[exchange["location_id"]]["merchant_id"]
        if emit:
            for event_type, data_type, oid, obj in events:
                self.emit(merchant_id=merchant_id, event_type=event_type, data_type=data_type, object_id=oid, obj=obj)
        return None if refund is None else _copy(refund)

    # --- reads used by the API -----------------------------------------------------
    def get_order(self, order_id: str, merchant_id: str) -> dict | None:
        with self.lock:
            o = self._merchant_order(order_id, merchant_id)
            return None if o is None else _copy(o)

    def retrieve_order_json(self, order_id: str, merchant_id: str) -> str | None:
        """RetrieveOrder's body, {"order": …}, as JSON text: serialized under
        the lock instead of copied and then serialized (the hot POS path)."""
        with self.lock:
            o = self._merchant_order(order_id, merchant_id)
            return None if o is None else json.dumps({"order": o})

    def batch_retrieve_orders_json(self, order_ids: list, merchant_id: str, location_id: str | None) -> str:
        """BatchRetrieveOrders' body, {"orders": […]}: the seller's orders
        among `order_ids` (at `location_id` if given), in the order asked,
        unknown ids left out; serialized under the lock, as above (a live
        backlog reads its sales ten at a time this way)."""
        with self.lock:
            orders = [o for o in (self._merchant_order(oid, merchant_id) for oid in order_ids)
                      if o is not None and (not location_id or o["location_id"] == location_id)]
            return json.dumps({"orders": orders})

    def _merchant_order(self, order_id: str, merchant_id: str) -> dict | None:
        o = self.orders.get(order_id)
        if o is None or self.locations[o["location_id"]]["merchant_id"] != merchant_id:
            return None
        return o

    def search_orders(self, body: dict, merchant_id: str) -> dict:
        location_ids = body.get("location_ids")
        if not isinstance(location_ids, list) or not location_ids:
            raise bad_request("MISSING_REQUIRED_PARAMETER", "location_ids must name at least one location.",
                              "location_ids")
        if len(location_ids) > constants.SEARCH_MAX_LOCATIONS:
            raise bad_request("ARRAY_LENGTH_TOO_LONG",
                              f"At most {constants.SEARCH_MAX_LOCATIONS} location_ids are allowed.", "location_ids")
        limit = body.get("limit", constants.SEARCH_DEFAULT_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise bad_request("EXPECTED_INTEGER", "limit must be an integer.", "limit")
        if limit < 1:
            raise bad_request("VALUE_TOO_LOW", "limit must be at least 1.", "limit")
        if limit > constants.SEARCH_MAX_LIMIT:
            raise bad_request("VALUE_TOO_HIGH", f"limit must be at most {constants.SEARCH_MAX_LIMIT}.", "limit")
        query = body.get("query") or {}
        filt = query.get("filter") or {}
        sort = query.get("sort") or {}
        sort_field = sort.get("sort_field", "CREATED_AT")
        sort_order = sort.get("sort_order", "DESC")
        if sort_field not in constants.SORT_FIELDS:
            raise bad_request("INVALID_ENUM_VALUE", f"Unknown sort_field {sort_field!r}.", "query.sort.sort_field")
        if sort_order not in ("ASC", "DESC"):
            raise bad_request("INVALID_SORT_ORDER", f"Unknown sort_order {sort_order!r}.", "query.sort.sort_order")
        dtf = filt.get("date_time_filter") or {}
        ranges = {k: v for k, v in dtf.items() if v}
        if len(ranges) > 1:
            raise bad_request("INVALID_VALUE", "Only one date_time_filter time range can be set.",
                              "query.filter.date_time_filter")
        if ranges and sort_field.lower() not in ranges:
            raise bad_request("INVALID_VALUE",
                              "The sort_field must match the timestamp field used in the date_time_filter.",
                              "query.sort.sort_field")
        states = (filt.get("state_filter") or {}).get("states")
        if states is not None:
            bad = set(states) - set(constants.ORDER_STATES)
            if bad or not states:
                raise bad_request("INVALID_ENUM_VALUE", f"Invalid states {sorted(bad)}.", "query.filter.state_filter")
        # SearchOrdersSortField: CLOSED_AT needs a StateFilter of closed states only.
        if sort_field == "CLOSED_AT" and not (states and set(states) <= {"COMPLETED", "CANCELED"}):
            raise bad_request("INVALID_VALUE", "Sorting by CLOSED_AT requires a state_filter of closed states "
                              "(COMPLETED, CANCELED).", "query.filter.state_filter")
        fingerprint = hashlib.sha256(json.dumps(
            [sorted(location_ids), query, bool(body.get("return_entries"))], sort_keys=True).encode()).hexdigest()
        with self.lock:
            for lid in location_ids:
                loc = self.locations.get(lid)
                if loc is None or loc["merchant_id"] != merchant_id:
                    raise SquareAPIError(403, "AUTHENTICATION_ERROR", "FORBIDDEN",
                                         f"Location {lid} is not accessible.", "location_ids")
            cursor = body.get("cursor")
            if cursor:
                state = self.cursors.get(cursor)
                if state is None or state["fingerprint"] != fingerprint or state["merchant_id"] != merchant_id:
                    raise bad_request("INVALID_CURSOR",
                                      "The cursor is invalid or was issued for a different query.", "cursor")
                ids, offset = state["ids"], state["offset"]
            else:
                ids, offset = self._matching_ids(location_ids, filt, ranges, sort_field, sort_order), 0
            page_ids = ids[offset: offset + limit]
            orders = [_copy(self.orders[i]) for i in page_ids]
            out: dict = {}
            if body.get("return_entries"):
                out["order_entries"] = [{"order_id": o["id"], "version": o["version"], "location_id": o["location_id"]}
                                        for o in orders]
            else:
                out["orders"] = orders
            if offset + limit < len(ids):
                token = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
                self.cursors[token] = {"fingerprint": fingerprint, "ids": ids, "offset": offset + limit,
                                       "merchant_id": merchant_id}
                out["cursor"] = token
            return out

    def _matching_ids(self, location_ids, filt, ranges, sort_field, sort_order) -> list[str]:
        key = sort_field.lower()
        states = (filt.get("state_filter") or {}).get("states")
        customers = (filt.get("customer_filter") or {}).get("customer_ids")
        sources = (filt.get("source_filter") or {}).get("source_names")
        start = end = None
        if ranges:
            (field, rng_), = ranges.items()
            if rng_.get("start_at"):
                start = parse_rfc3339(rng_["start_at"], f"query.filter.date_time_filter.{field}.start_at")
            # An absent end defaults to the time of the first request for the cursor.
            end = parse_rfc3339(rng_["end_at"], f"query.filter.date_time_filter.{field}.end_at") \
                if rng_.get("end_at") else now_utc()
            if start and end < start:
                raise bad_request("INVALID_TIME_RANGE", "end_at is before start_at.", "query.filter.date_time_filter")
        start_s = rfc3339(start) if start else None
        end_s = rfc3339(end) if end else None
        rows = []
        for o in self.orders.values():
            if o["location_id"] not in location_ids:
                continue
            if states is not None and o["state"] not in states:
                continue
            if customers is not None and o.get("customer_id") not in customers:
                continue
            if sources is not None and (o.get("source") or {}).get("name") not in sources:
                continue
            value = o.get(key)
            if ranges:
                # the sandbox writes every timestamp as YYYY-MM-DDTHH:MM:SS.mmmZ,
                # so string order is time order
                if value is None or (start_s and value < start_s) or value > end_s:
                    continue
            rows.append((value or "", o["id"]))
        rows.sort(reverse=sort_order == "DESC")
        return [oid for _, oid in rows]

    def main_location_id(self, merchant_id: str) -> str | None:
        return self.merchants[merchant_id].get("main_location_id")

    def list_payments(self, args: dict, merchant_id: str) -> dict:
        """ListPayments: see `_list_by_time`. Without `location_id` it lists
        the seller's main location only ("By default, results are returned
        for the default (main) location associated with the seller"); `total`
        (total_money.amount), `last_4` and `card_brand` (the card's) filter;
        `is_offline_payment` (true | false) by whether it was taken offline;
        `offline_begin_time`/`offline_end_time` bound
        offline_payment_details.client_created_at, [begin, end), and leave
        out every payment without one ("If set, payments without a value set
        in offline_payment_details.client_created_at will not be returned");
        sort_field OFFLINE_CREATED_AT sorts by it.
        UNCONFIRMED: Square documents "Default: The current time" for both
        offline bounds, which for offline_begin_time would make a query
        naming only offline_end_time (in the past) return nothing; the reading
        is no lower bound, and an end of now. OFFLINE_CREATED_AT sorts a
        payment taken online by its created_at (the time it was taken)."""
        location_id = args.get("location_id") or self.main_location_id(merchant_id)
        checks = []
        if args.get("total"):
            total = _int_arg(args, "total")
            checks.append(lambda p: p["total_money"]["amount"] == total)
        for field in ("last_4", "card_brand"):
            if args.get(field):
                checks.append(lambda p, f=field, v=args[field]: (p.get("card_details") or {}).get("card", {}).get(f) == v)
        if args.get("is_offline_payment"):
            offline = _bool_arg(args, "is_offline_payment")
            checks.append(lambda p: bool(p.get("is_offline_payment")) == offline)
        if args.get("offline_begin_time") or args.get("offline_end_time"):
            begin = (parse_rfc3339(args["offline_begin_time"], "offline_begin_time")
                     if args.get("offline_begin_time") else None)
            end = parse_rfc3339(args["offline_end_time"], "offline_end_time") if args.get("offline_end_time") \
                else now_utc()
            checks.append(lambda p: (t := _offline_created_at(p)) is not None and (begin is None or begin <= t) and t < end)
        return self._list_by_time(self.payments, "payments", dict(args, location_id=location_id), merchant_id, checks,
                                  sort_fields=constants.PAYMENTS_SORT_FIELDS)

    def list_refunds(self, args: dict, merchant_id: str) -> dict:
        """ListPaymentRefunds: as ListPayments, but every location without
        `location_id` ("results are returned for all locations"); `status`
        filters, and `source_type` by the refunded payment's source type."""
        checks = []
        if args.get("status"):
            checks.append(lambda r, v=args["status"]: r.get("status") == v)
        if args.get("source_type"):
            checks.append(lambda r, v=args["source_type"]: self.payments[r["payment_id"]]["source_type"] == v)
        return self._list_by_time(self.refunds, "refunds", args, merchant_id, checks,
                                  sort_fields=constants.REFUNDS_SORT_FIELDS)

    def _list_by_time(self, rows_by_id: dict, name: str, args: dict, merchant_id: str, checks=(),
                      sort_fields=constants.REFUNDS_SORT_FIELDS) -> dict:
        """ListPayments' and ListPaymentRefunds' shared query, as Square
        documents it: `begin_time`/`end_time` bound created_at (default: the
        last year up to now), `updated_at_begin_time`/`updated_at_end_time`
        bound updated_at (default: from begin_time up to now), each range
        [begin, end); `sort_field` one of `sort_fields` (default CREATED_AT),
        `sort_order` DESC (default) or ASC; a `limit` over 100 returns 100;
        each of `checks` (a row → bool) must hold. An unknown sort_field or
        sort_order answers 400 (`constants.PAYMENTS_SORT_FIELDS`)."""
        limit = _int_arg(args, "limit") if args.get("limit") else constants.PAYMENTS_MAX_LIMIT
        if limit < 1:
            raise bad_request("VALUE_TOO_LOW", "limit out of range.", "limit")
        limit = min(limit, constants.PAYMENTS_MAX_LIMIT)
        sort_field = args.get("sort_field") or "CREATED_AT"
        if sort_field not in sort_fields:
            raise bad_request("INVALID_ENUM_VALUE", f"sort_field {sort_field} is not one of {', '.join(sort_fields)}.",
                              "sort_field")
        sort_key = _SORT_KEYS[sort_field]
        sort_order = args.get("sort_order") or "DESC"
        if sort_order not in constants.SORT_ORDERS:
            raise bad_request("INVALID_SORT_ORDER", f"sort_order {sort_order} is not ASC or DESC.", "sort_order")

        def bound(arg, default):
            return parse_rfc3339(args[arg], arg) if args.get(arg) else default

        now = now_utc()
        begin, end = bound("begin_time", now - dt.timedelta(days=365)), bound("end_time", now)
        updated_begin, updated_end = bound("updated_at_begin_time", begin), bound("updated_at_end_time", now)
        with self.lock:
            rows = []
            for p in rows_by_id.values():
                if self.locations[p["location_id"]]["merchant_id"] != merchant_id:
                    continue
                if args.get("location_id") and p["location_id"] != args["location_id"]:
                    continue
                if not all(check(p) for check in checks):
                    continue
                created, updated = _row_time(p, "created_at"), _row_time(p, "updated_at")
                if not (begin <= created < end and updated_begin <= updated < updated_end):
                    continue
                rows.append((sort_key(p), p["id"]))
            rows.sort(reverse=sort_order == "DESC")
            offset = 0
            if args.get("cursor"):
                try:
                    offset = int(base64.urlsafe_b64decode(args["cursor"] + "==").decode())
                except ValueError:
                    raise bad_request("INVALID_CURSOR", "Invalid cursor.", "cursor") from None
            page = rows[offset: offset + limit]
            out = {name: [_copy(rows_by_id[i]) for _, i in page]}
            if offset + limit < len(rows):
                out["cursor"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode().rstrip("=")
            return out

    def get_payment(self, payment_id: str, merchant_id: str) -> dict | None:
        with self.lock:
            p = self.payments.get(payment_id)
            if p is None or self.locations[p["location_id"]]["merchant_id"] != merchant_id:
                return None
            return _copy(p)

    def get_refund(self, refund_id: str, merchant_id: str) -> dict | None:
        with self.lock:
            r = self.refunds.get(refund_id)
            if r is None or self.locations[r["location_id"]]["merchant_id"] != merchant_id:
                return None
            return _copy(r)

    def seed_history(self, *, count: int, start: dt.datetime, end: dt.datetime,
                     location_ids: list[str] | None = None) -> dict:
        """`count` completed random sales at random times in [start, end), no
        webhooks: a merchant's history for historical imports and batch benches."""
        span = (end - start).total_seconds()
        locs = location_ids or list(self.locations)
        made = 0
        for _ in range(count):
            at = start + dt.timedelta(seconds=self.rng.random() * span)
            self.create_sale(random_sale=True, location_id=self.rng.choice(locs), at=at, emit=False)
            made += 1
        return {"created": made}

    # --- load generator ------------------------------------------------------------
    def start_load(self, *, rate: float, seconds: float, location_ids: list[str] | None = None) -> dict:
        """Complete `rate` random sales per second for `seconds` in a thread."""
        self.stop_load()
        self._load_stop = threading.Event()
        stats = {"running": True, "rate": rate, "seconds": seconds, "created": 0, "errors": 0,
                 "started_at": time.time(), "order_ids": []}
        self.load_stats = stats
        stop = self._load_stop

        total = max(1, round(rate * seconds))
        stats["target"] = total

        def run():
            # Paced at `rate`; when behind (a slow machine) it catches up, so a
            # run always makes rate × seconds sales unless stopped.
            start = time.monotonic()
            n = 0
            while not stop.is_set() and n < total:
                elapsed = time.monotonic() - start
                due = min(total, int(elapsed * rate) + 1)
                while n < due and not stop.is_set():
                    with self.lock:
                        locs = location_ids or list(self.locations)
                        loc = self.rng.choice(locs)
                    try:
                        sale = self.create_sale(random_sale=True, location_id=loc)
                        stats["order_ids"].append(sale["order"]["id"])
                        stats["created"] += 1
                    except Exception:  # noqa: BLE001 - counted and reported by the control API
                        stats["errors"] += 1
                    n += 1
                next_at = start + n / rate
                stop.wait(max(0.0, next_at - time.monotonic()))
            stats["running"] = False
            stats["finished_at"] = time.time()

        self._load_thread = threading.Thread(target=run, name="square-sandbox-load", daemon=True)
        self._load_thread.start()
        return self.load_status()

    def stop_load(self) -> dict:
        if self._load_thread is not None:
            self._load_stop.set()
            self._load_thread.join(timeout=10)
            self._load_thread = None
        return self.load_status()

    def load_status(self) -> dict:
        s = dict(self.load_stats)
        s.pop("order_ids", None)
        return s


__all__ = ["Sandbox", "SquareAPIError"]

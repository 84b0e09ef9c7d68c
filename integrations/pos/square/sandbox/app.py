"""WSGI app of the Square sandbox: the public API routes (OAuth, Locations,
Orders, Payments, Refunds) in Square's wire format, and the `/_sandbox/`
control routes. See the package docstring for the list."""
from __future__ import annotations

import datetime as dt
import html
import json
import re
import time
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from integrations.pos.square import constants
from integrations.pos.square.sandbox.state import (
    Sandbox,
    SquareAPIError,
    bad_request,
    not_found,
    parse_rfc3339,
    unauthorized,
)

_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# public endpoint → Square's name for it
_OPERATIONS = {
    "obtain_token": "ObtainToken", "revoke_token": "RevokeToken", "token_status": "RetrieveTokenStatus",
    "list_locations": "ListLocations", "get_location": "RetrieveLocation", "get_order": "RetrieveOrder",
    "batch_retrieve_orders": "BatchRetrieveOrders", "search_orders": "SearchOrders", "list_payments": "ListPayments",
    "get_payment": "GetPayment", "refund_payment": "RefundPayment", "get_refund": "GetPaymentRefund",
    "list_refunds": "ListPaymentRefunds",
}
# public endpoint → the Square-Version values it answers in (a set, so the
# check per request is one dict lookup and one set lookup)
_VERSIONS = {endpoint: frozenset(v for v in constants.SQUARE_API_VERSIONS
                                 if v >= constants.ENDPOINT_FIRST_VERSIONS.get(operation, ""))
             for endpoint, operation in _OPERATIONS.items()}

# endpoint → required OAuth scope
_SCOPES = {
    "list_locations": "MERCHANT_PROFILE_READ",
    "get_location": "MERCHANT_PROFILE_READ",
    "get_order": "ORDERS_READ",
    "batch_retrieve_orders": "ORDERS_READ",
    "search_orders": "ORDERS_READ",
    "list_payments": "PAYMENTS_READ",
    "get_payment": "PAYMENTS_READ",
    "refund_payment": "PAYMENTS_WRITE",
    "get_refund": "PAYMENTS_READ",
    "list_refunds": "PAYMENTS_READ",
}

URLS = Map([
    Rule("/oauth2/authorize", endpoint="authorize", methods=["GET"]),
    Rule("/oauth2/authorize", endpoint="authorize_decision", methods=["POST"]),
    Rule("/oauth2/token", endpoint="obtain_token", methods=["POST"]),
    Rule("/oauth2/revoke", endpoint="revoke_token", methods=["POST"]),
    Rule("/oauth2/token/status", endpoint="token_status", methods=["POST"]),
    Rule("/v2/locations", endpoint="list_locations", methods=["GET"]),
    Rule("/v2/locations/<location_id>", endpoint="get_location", methods=["GET"]),
    Rule("/v2/orders/batch-retrieve", endpoint="batch_retrieve_orders", methods=["POST"]),
    Rule("/v2/orders/search", endpoint="search_orders", methods=["POST"]),
    Rule("/v2/orders/<order_id>", endpoint="get_order", methods=["GET"]),
    Rule("/v2/payments", endpoint="list_payments", methods=["GET"]),
    Rule("/v2/payments/<payment_id>", endpoint="get_payment", methods=["GET"]),
    Rule("/v2/refunds", endpoint="refund_payment", methods=["POST"]),
    Rule("/v2/refunds", endpoint="list_refunds", methods=["GET"]),
    Rule("/v2/refunds/<refund_id>", endpoint="get_refund", methods=["GET"]),
    # control
    Rule("/_sandbox/reset", endpoint="c_reset", methods=["POST"]),
    Rule("/_sandbox/state", endpoint="c_state", methods=["GET"]),
    Rule("/_sandbox/apps", endpoint="c_register_app", methods=["POST"]),
    Rule("/_sandbox/merchants", endpoint="c_add_merchant", methods=["POST"]),
    Rule("/_sandbox/locations", endpoint="c_seed_locations", methods=["POST"]),
    Rule("/_sandbox/tokens", endpoint="c_issue_token", methods=["POST"]),
    Rule("/_sandbox/webhook-subscription", endpoint="c_subscription", methods=["PUT"]),
    Rule("/_sandbox/delivery", endpoint="c_delivery", methods=["PUT"]),
    Rule("/_sandbox/deliveries", endpoint="c_deliveries", methods=["GET"]),
    Rule("/_sandbox/events/<event_id>/redeliver", endpoint="c_redeliver", methods=["POST"]),
    Rule("/_sandbox/sales", endpoint="c_sale", methods=["POST"]),
    Rule("/_sandbox/sales/history", endpoint="c_history", methods=["POST"]),
    Rule("/_sandbox/orders/<order_id>/fulfillment", endpoint="c_fulfillment", methods=["POST"]),
    Rule("/_sandbox/exchanges", endpoint="c_exchange", methods=["POST"]),
    Rule("/_sandbox/refunds", endpoint="c_refund", methods=["POST"]),
    Rule("/_sandbox/returns", endpoint="c_return", methods=["POST"]),
    Rule("/_sandbox/refunds/<refund_id>/complete", endpoint="c_refund_complete", methods=["POST"]),
    Rule("/_sandbox/faults", endpoint="c_faults", methods=["PUT"]),
    Rule("/_sandbox/rate-limit", endpoint="c_rate_limit", methods=["PUT"]),
    Rule("/_sandbox/load", endpoint="c_load_status", methods=["GET"]),
    Rule("/_sandbox/load/start", endpoint="c_load_start", methods=["POST"]),
    Rule("/_sandbox/load/stop", endpoint="c_load_stop", methods=["POST"]),
])


def _json(data, status=200, headers=None) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json", headers=headers)


def _body(request: Request) -> dict:
    if not request.get_data():
        return {}
    try:
        data = json.loads(request.get_data())
    except ValueError:
        raise bad_request("EXPECTED_JSON_BODY", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_request("EXPECTED_OBJECT", "The request body must be a JSON object.")
    return data


class SquareSandboxApp:
    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def set_base_url(self, url: str):
        self.sandbox.base_url = url.rstrip("/")

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except SquareAPIError as exc:
            response = _json(exc.body(), exc.status, exc.headers)
        except HTTPException as exc:
            code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.code, "BAD_REQUEST")
            response = _json({"errors": [{"category": "INVALID_REQUEST_ERROR", "code": code,
                                          "detail": exc.description}]}, exc.code)
        version = environ.get("square.version")
        if version:  # the API version that processed the request
            response.headers["Square-Version"] = version
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        endpoint, args = URLS.bind_to_environ(request.environ).match()
        if endpoint.startswith("c_"):
            return getattr(self, endpoint)(request, **args)
        if endpoint in ("authorize", "authorize_decision"):
            return getattr(self, endpoint)(request)
        request.environ["square.version"] = self._square_version(request, endpoint)
        latency, fault = self.sandbox.check_faults(request.method, request.path)
        if latency:
            time.sleep(latency)
        if fault:
            raise fault
        if endpoint in ("obtain_token", "revoke_token", "token_status"):
            self.sandbox.check_rate("oauth")
            return getattr(self, endpoint)(request)
        token = self._bearer(request)
        self.sandbox.check_rate(token)
        tok = self.sandbox.authenticate(token, _SCOPES[endpoint])
        return getattr(self, endpoint)(request, tok, **args)

    @staticmethod
    def _square_version(request: Request, endpoint: str) -> str:
        """The Square-Version the request names, or the application's pinned
        one; a malformed, unreleased or too old one is refused (see
        `constants.ENDPOINT_FIRST_VERSIONS`)."""
        version = request.headers.get("Square-Version")
        if version is None:
            return constants.SQUARE_VERSION
        if version in _VERSIONS[endpoint]:
            return version
        if not _VERSION_RE.match(version):
            raise bad_request("INVALID_SQUARE_VERSION_FORMAT", f"Invalid Square-Version {version!r}.")
        if version not in constants.SQUARE_API_VERSIONS:
            raise bad_request("API_VERSION_INCOMPATIBLE", f"Square-Version {version} is not a released version.")
        raise bad_request("API_VERSION_INCOMPATIBLE",
                          f"{_OPERATIONS[endpoint]} is not available in Square-Version {version}; it needs "
                          f"{constants.ENDPOINT_FIRST_VERSIONS[_OPERATIONS[endpoint]]} or later.")

    @staticmethod
    def _bearer(request: Request) -> str:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise unauthorized()
        return auth[7:].strip()

    # --- OAuth ---------------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        a = request.args
        app = self.sandbox.apps.get(a.get("client_id", ""))
        if app is None:
            return Response("<h1>Invalid client_id</h1>", status=400, mimetype="text/html")
        scopes = [s for s in re.split(r"[ +]", a.get("scope", "")) if s]
        unknown = [s for s in scopes if s not in constants.SCOPES + ("PAYMENTS_WRITE",)]
        if not scopes or unknown:
            return Response(f"<h1>Invalid scope {html.escape(' '.join(unknown))}</h1>", status=400,
                            mimetype="text/html")
        redirect_uri = a.get("redirect_uri", "")
        if redirect_uri and app["redirect_uri"] and redirect_uri != app["redirect_uri"]:
            return Response("<h1>redirect_uri does not match the application's redirect URL</h1>", status=400,
                            mimetype="text/html")
        if not (redirect_uri or app["redirect_uri"]):
            return Response("<h1>The application has no redirect URL</h1>", status=400, mimetype="text/html")
        method = a.get("code_challenge_method")
        if a.get("code_challenge") and method not in (None, "S256", "plain"):
            return Response("<h1>Unsupported code_challenge_method</h1>", status=400, mimetype="text/html")
        merchants = list(self.sandbox.merchants.values())
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(a.get(k, ""))}">'
            for k in ("client_id", "scope", "state", "code_challenge", "code_challenge_method", "session",
                      "redirect_uri"))
        options = "".join(f'<option value="{html.escape(m["id"])}">{html.escape(m["business_name"])}</option>'
                          for m in merchants)
        items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Square sandbox: authorize application</title></head>
<body><main>
<h1>Allow access to your Square account?</h1>
<p>The application <strong>{html.escape(app['client_id'])}</strong> asks for these permissions:</p>
<ul>{items}</ul>
<form method="post" action="/oauth2/authorize">
{hidden}
<label for="merchant_id">Seller account</label>
<select id="merchant_id" name="merchant_id">{options}</select>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></main></body></html>"""
        return Response(page, mimetype="text/html")

    def authorize_decision(self, request: Request) -> Response:
        f = request.form
        app = self.sandbox.apps.get(f.get("client_id", ""))
        # The registered redirect URL; a sandbox app registered without one takes
        # the redirect_uri of the authorize request (real apps register theirs).
        redirect = (app or {}).get("redirect_uri") or f.get("redirect_uri", "")
        if app is None or not redirect or (f.get("redirect_uri") and f.get("redirect_uri") != redirect):
            return Response("<h1>Invalid application or redirect URL</h1>", status=400, mimetype="text/html")
        state = f.get("state", "")
        sep = "&" if "?" in redirect else "?"
        if f.get("decision") != "allow":
            query = {"error": "access_denied", "error_description": "user_denied", "state": state}
            return Response(status=302, headers={"Location": redirect + sep + urlencode(query)})
        merchant_id = f.get("merchant_id") or self.sandbox.default_merchant_id
        if merchant_id not in self.sandbox.merchants:
            return Response("<h1>Unknown seller</h1>", status=400, mimetype="text/html")
        code = self.sandbox.create_code(
            client_id=app["client_id"], merchant_id=merchant_id,
            scopes=[s for s in re.split(r"[ +]", f.get("scope", "")) if s], state=state,
            code_challenge=f.get("code_challenge") or None,
            code_challenge_method=(f.get("code_challenge_method") or "S256") if f.get("code_challenge") else None,
            redirect_uri=f.get("redirect_uri", ""))
        query = {"code": code, "response_type": "code", "state": state}
        return Response(status=302, headers={"Location": redirect + sep + urlencode(query)})

    def obtain_token(self, request: Request) -> Response:
        return _json(self.sandbox.obtain_token(_body(request), version=request.environ["square.version"]))

    def revoke_token(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Client "):
            raise unauthorized("UNAUTHORIZED", "Revoke requires the header `Authorization: Client <APP_SECRET>`.")
        return _json(self.sandbox.revoke(app_secret=auth[7:].strip(), body=_body(request)))

    def token_status(self, request: Request) -> Response:
        return _json(self.sandbox.token_status(self._bearer(request)))

    # --- Locations -----------------------------------------------------------------
    def list_locations(self, request, tok):
        return _json({"locations": self.sandbox.merchant_locations(tok["merchant_id"])})

    def get_location(self, request, tok, location_id):
        if location_id == "main":  # RetrieveLocation: "main" names the main location
            location_id = self.sandbox.main_location_id(tok["merchant_id"])
        for loc in self.sandbox.merchant_locations(tok["merchant_id"]):
            if loc["id"] == location_id:
                return _json({"location": loc})
        raise not_found(f"Location {location_id} not found.")

    # --- Orders --------------------------------------------------------------------
    def get_order(self, request, tok, order_id):
        body = self.sandbox.retrieve_order_json(order_id, tok["merchant_id"])
        if body is None:
            raise not_found(f"Order {order_id} not found.")
        return Response(body, mimetype="application/json")

    def batch_retrieve_orders(self, request, tok):
        body = _body(request)
        ids = body.get("order_ids")
        if not isinstance(ids, list) or not ids:
            raise bad_request("MISSING_REQUIRED_PARAMETER", "order_ids is required.", "order_ids")
        if len(ids) > 100:
            raise bad_request("ARRAY_LENGTH_TOO_LONG", "At most 100 order_ids are allowed.", "order_ids")
        return Response(self.sandbox.batch_retrieve_orders_json(ids, tok["merchant_id"], body.get("location_id")),
                        mimetype="application/json")

    def search_orders(self, request, tok):
        return _json(self.sandbox.search_orders(_body(request), tok["merchant_id"]))

    # --- Payments and refunds ------------------------------------------------------
    def list_payments(self, request, tok):
        return _json(self.sandbox.list_payments(request.args.to_dict(), tok["merchant_id"]))

    def get_payment(self, request, tok, payment_id):
        p = self.sandbox.get_payment(payment_id, tok["merchant_id"])
        if p is None:
            raise not_found(f"Payment {payment_id} not found.")
        return _json({"payment": p})

    def refund_payment(self, request, tok):
        body = _body(request)
        for field in ("idempotency_key", "payment_id", "amount_money"):
            if not body.get(field):
                raise bad_request("MISSING_REQUIRED_PARAMETER", f"{field} is required.", field)
        refund = self.sandbox.refund_payment(
            payment_id=body["payment_id"], amount=body["amount_money"].get("amount"), reason=body.get("reason", ""),
            idempotency_key=body["idempotency_key"], merchant_id=tok["merchant_id"])
        return _json({"refund": refund})

    def list_refunds(self, request, tok):
        return _json(self.sandbox.list_refunds(request.args.to_dict(), tok["merchant_id"]))

    def get_refund(self, request, tok, refund_id):
        r = self.sandbox.get_refund(refund_id, tok["merchant_id"])
        if r is None:
            raise not_found(f"Refund {refund_id} not found.")
        return _json({"refund": r})

    # --- control -------------------------------------------------------------------
    def c_reset(self, request):
        self.sandbox.reset()
        return _json({"ok": True, "merchant_id": self.sandbox.default_merchant_id,
                      "locations": self.sandbox.merchant_locations(self.sandbox.default_merchant_id)})

    def c_state(self, request):
        s = self.sandbox
        with s.lock:
            return _json({"merchants": list(s.merchants.values()), "locations": list(s.locations.values()),
                          "apps": [{"client_id": a["client_id"], "redirect_uri": a["redirect_uri"]}
                                   for a in s.apps.values()],
                          "orders": len(s.orders), "payments": len(s.payments), "refunds": len(s.refunds),
                          "subscriptions": s.subscriptions, "pending_deliveries": s.sender.pending()})

    def c_register_app(self, request):
        b = _body(request)
        return _json(self.sandbox.register_app(client_id=b["client_id"], client_secret=b["client_secret"],
                                               redirect_uri=b.get("redirect_uri", "")))

    def c_add_merchant(self, request):
        b = _body(request)
        m = self.sandbox.add_merchant(merchant_id=b.get("merchant_id"),
                                      business_name=b.get("business_name", "Sandbox Merchant"))
        locs = self.sandbox.seed_locations(merchant_id=m["id"], count=int(b.get("locations", 1)))
        return _json({"merchant": m, "locations": locs})

    def c_seed_locations(self, request):
        b = _body(request)
        return _json({"locations": self.sandbox.seed_locations(
            merchant_id=b.get("merchant_id"), count=int(b.get("count", 1)), names=b.get("names"))})

    def c_issue_token(self, request):
        b = _body(request)
        kwargs = {k: b[k] for k in ("client_id", "merchant_id", "pkce") if k in b}
        if "scopes" in b:
            kwargs["scopes"] = tuple(b["scopes"])
        return _json(self.sandbox.issue_token(**kwargs))

    def c_subscription(self, request):
        b = _body(request)
        return _json({"subscription": self.sandbox.set_subscription(
            notification_url=b["notification_url"], event_types=b.get("event_types", constants.EVENT_TYPES),
            signature_key=b.get("signature_key"), enabled=b.get("enabled", True))})

    def c_delivery(self, request):
        b = _body(request)
        self.sandbox.configure_delivery(duplicate_rate=b.get("duplicate_rate"), time_scale=b.get("time_scale"),
                                        retry_delays=b.get("retry_delays"), timeout=b.get("timeout"))
        return _json({"ok": True})

    def c_deliveries(self, request):
        return _json({"deliveries": self.sandbox.deliveries(request.args.get("event_id")),
                      "pending": self.sandbox.sender.pending()})

    def c_redeliver(self, request, event_id):
        return _json({"event": self.sandbox.redeliver(event_id)})

    def c_sale(self, request):
        b = _body(request)
        kwargs = {k: b[k] for k in ("order", "location_id", "tip", "tender_type", "card_brand", "customer_id",
                                    "complete", "duplicates", "fulfillment") if k in b}
        if b.get("offline_at"):
            kwargs["offline_at"] = parse_rfc3339(b["offline_at"], "offline_at")
        return _json(self.sandbox.create_sale(random_sale=bool(b.get("random")) or "order" not in b, **kwargs))

    def c_history(self, request):
        from integrations.pos.square.sandbox.state import now_utc, parse_rfc3339

        b = _body(request)
        end = parse_rfc3339(b["end_at"], "end_at") if b.get("end_at") else now_utc()
        start = parse_rfc3339(b["start_at"], "start_at") if b.get("start_at") else end - dt.timedelta(days=1)
        return _json(self.sandbox.seed_history(count=int(b.get("count", 100)), start=start, end=end,
                                               location_ids=b.get("location_ids")))

    def c_fulfillment(self, request, order_id):
        b = _body(request)
        return _json({"event": self.sandbox.update_fulfillment(order_id=order_id,
                                                               new_state=b.get("new_state", "COMPLETED"))})

    def c_exchange(self, request):
        b = _body(request)
        for field in ("order_id", "returns", "order"):
            if not b.get(field):
                raise bad_request("MISSING_REQUIRED_PARAMETER", f"{field} is required.", field)
        kwargs = {k: b[k] for k in ("tender_type", "card_brand", "reason") if k in b}
        return _json(self.sandbox.create_exchange(order_id=b["order_id"], returns=b["returns"], order=b["order"],
                                                  **kwargs))

    def c_refund(self, request):
        b = _body(request)
        refund = self.sandbox.refund_payment(payment_id=b["payment_id"], amount=b.get("amount"),
                                             reason=b.get("reason", ""), idempotency_key=b.get("idempotency_key"),
                                             line_items=b.get("line_items"), complete=b.get("complete", True))
        return _json({"refund": self.sandbox.get_refund(refund["id"], self.sandbox.locations[
            refund["location_id"]]["merchant_id"])})

    def c_return(self, request):
        b = _body(request)
        return _json(self.sandbox.create_return(returns=b.get("returns") or [], reason=b.get("reason", ""),
                                                complete=b.get("complete", True)))

    def c_refund_complete(self, request, refund_id):
        return _json({"refund": self.sandbox.complete_refund(refund_id)})

    def c_faults(self, request):
        self.sandbox.set_faults(_body(request).get("faults", []))
        return _json({"ok": True})

    def c_rate_limit(self, request):
        b = _body(request)
        self.sandbox.set_rate_limit(requests=b.get("requests"), per_seconds=b.get("per_seconds", 1.0))
        return _json({"rate_limit": self.sandbox.rate_limit})

    def c_load_status(self, request):
        return _json(self.sandbox.load_status())

    def c_load_start(self, request):
        b = _body(request)
        return _json(self.sandbox.start_load(rate=float(b.get("rate", 10)), seconds=float(b.get("seconds", 10)),
                                             location_ids=b.get("location_ids")))

    def c_load_stop(self, request):
        return _json(self.sandbox.stop_load())


def create_app(**options) -> SquareSandboxApp:
    """Options: client_id, client_secret, redirect_uri (the default app),
    merchant_id, locations (how many to seed), time_scale (webhook retry
    clock), webhook_workers, seed (random sales)."""
    return SquareSandboxApp(Sandbox(**options))

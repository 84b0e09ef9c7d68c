"""A local FIRS MBS sandbox (FIRS.md §7) as a werkzeug WSGI app.

`create_app(**options)` returns a `FirsSandboxApp`; `app.sandbox` (a
`state.Sandbox`) is the in-process control surface and `/_sandbox/…` the same
over HTTP for tests and benches in another process:

- ``POST /_sandbox/businesses`` {name?, tin?, service_id?, business_id?,
  api_key?, api_secret?, webhook_url?} → the business with its credentials,
  ``crypto_keys`` JSON and private key; ``GET`` lists them.
- ``POST /_sandbox/faults`` {endpoint, kind, probability?, times?,
  hang_seconds?} adds a rule ({"rules": [...]} replaces all); ``DELETE`` clears.
  Kinds: 500 502 503 504 429 reset hang commit_then_timeout commit_then_reset.
  "commit_then_…" runs the request (a sign registers the IRN) and then never
  answers: the duplicate-IRN trap.
- ``POST /_sandbox/latency`` {mode: none|fixed|random, ms?, min_ms?, max_ms?}
- ``POST /_sandbox/auth`` {mode: "400"|"401"}; ``POST /_sandbox/webhook``
  {business_id, url}; ``GET /_sandbox/invoices``, ``/webhooks``, ``/requests``;
  ``POST /_sandbox/verify-stamp`` {stamp}; ``POST /_sandbox/reset``.

The FIRS side answers in FIRS's envelopes: success ``{"code", "data"}``, error
``{"code", "data": null, "message", "error": {id, handler, details,
public_message}}`` (validation errors add ``errors: [{field, message}]``, an
UNCONFIRMED extension). `confirm` also returns ``body_sha256`` and
``legal_monetary_total``, sandbox extensions that let a client check, after a
duplicate, that the signed document is the one it sent. `download` encrypts
with AES-256-CFB under sha256(api_secret): the real key source is
UNCONFIRMED. This app never runs in production.
"""
import base64
import datetime
import errno
import functools
import hashlib
import json
import os
import socket
import struct
import uuid
from decimal import Decimal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from taxpoynt.errors import ApplicationError

from .. import codes
from ..client import json_bytes  # exact Decimal numbers in JSON
from ..irn import IRN_RE
from .state import STATUS_FAULTS, Sandbox
from .validation import Violation, check_invoice, path, uuid_problem

INVOICE_HANDLER = codes.DUPLICATE_HANDLER  # FIRS's handler name for invoice routes
NOT_FOUND_DETAILS = "invoice not found"
NO_WEBHOOK_DETAILS = "no webhook url is configured for this business, kindly set one up on the dashboard"


def json_response(payload, status=200, headers=None) -> Response:
    return Response(json_bytes(payload), status=status, headers=headers, content_type="application/json; charset=utf-8")


def ok(data, status=200) -> Response:
    return json_response({"code": status, "data": data}, status)


@functools.cache
def _ok_true_body(status) -> bytes:
    return json_bytes({"code": status, "data": {"ok": True}})


def ok_true(status=200) -> Response:
    """`ok({"ok": True})`, the answer of most calls, from bytes built once."""
    return Response(_ok_true_body(status), status=status, content_type="application/json; charset=utf-8")


def error(status, *, handler, public_message, details=None, errors=None, headers=None) -> Response:
    body = {"id": str(uuid.uuid4()), "handler": handler}
    if details is not None:
        body["details"] = details
    body["public_message"] = public_message
    if errors:
        body["errors"] = errors
    return json_response({"code": status, "data": None, "message": codes.ERROR_MESSAGE, "error": body}, status, headers)


def validation_error(violations: list[Violation], *, handler=INVOICE_HANDLER) -> Response:
    return error(400, handler=handler, details=violations[0].details, public_message=codes.VALIDATION_PUBLIC_MESSAGE,
                 errors=[{"field": v.field, "message": v.message} for v in violations])


def not_found(details=NOT_FOUND_DETAILS, handler=INVOICE_HANDLER) -> Response:
    return error(404, handler=handler, details=details, public_message=details)


def no_route() -> Response:
    # Recorded from FIRS: no `error` object on this one.
    return json_response({"code": 404, "data": None, "message": codes.NO_ROUTE_MESSAGE}, 404)


class DropConnection(Exception):
    """Raised to end a request without any answer."""


def _drop(environ):
    # The sandbox server exposes the socket (taxpoynt.sandboxing); an abortive
    # close (linger 0) looks to the client like a reset peer. A
    # ConnectionResetError with its errno is what the server treats as a
    # dropped connection, so nothing is written after it.
    sock = environ.get("sandbox.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError(errno.ECONNRESET, "FIRS sandbox fault: connection dropped without an answer")


def _int_arg(request, name, default) -> int:
    try:
        return max(1, int(request.args.get(name) or default))
    except ValueError:
        return default


def _rule_path(template: str) -> str:
    return codes.API_PREFIX + template.replace("{", "<").replace("}", ">")


class FirsSandboxApp:
    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        rules = [Rule(codes.HEALTH_PATH, endpoint="health", methods=["GET"])]
        rules += [Rule(_rule_path(t), endpoint=name, methods=[m]) for name, (m, t) in codes.ENDPOINTS.items()]
        rules += [
            Rule("/_sandbox/businesses", endpoint="ctl_businesses", methods=["GET", "POST"]),
            Rule("/_sandbox/faults", endpoint="ctl_faults", methods=["GET", "POST", "DELETE"]),
            Rule("/_sandbox/latency", endpoint="ctl_latency", methods=["GET", "POST"]),
            Rule("/_sandbox/auth", endpoint="ctl_auth", methods=["POST"]),
            Rule("/_sandbox/webhook", endpoint="ctl_webhook", methods=["POST"]),
            Rule("/_sandbox/invoices", endpoint="ctl_invoices", methods=["GET"]),
            Rule("/_sandbox/webhooks", endpoint="ctl_webhooks", methods=["GET"]),
            Rule("/_sandbox/requests", endpoint="ctl_requests", methods=["GET"]),
            Rule("/_sandbox/verify-stamp", endpoint="ctl_verify_stamp", methods=["POST"]),
            Rule("/_sandbox/reset", endpoint="ctl_reset", methods=["POST"]),
        ]
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)

    def set_base_url(self, url: str):
        self.sandbox.base_url = url

    # --- WSGI -----------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException:
            return no_route()(environ, start_response)
        if endpoint.startswith("ctl_"):
            try:
                response = getattr(self, endpoint)(request)
            except ApplicationError as exc:
                response = json_response({"error": exc.message}, 400)
            return response(environ, start_response)
        response = self.serve(request, endpoint, args, environ)
        return response(environ, start_response)

    def serve(self, request, endpoint, args, environ) -> Response:
        sandbox = self.sandbox
        sandbox.count(endpoint)
        sandbox.wait(sandbox.latency_seconds())
        fault = sandbox.pick_fault(endpoint)
        if fault is not None:
            if fault.kind in STATUS_FAULTS:
                return self.status_fault(fault.kind)
            if fault.kind == "reset":
                _drop(environ)
            if fault.kind == "hang":
                sandbox.wait(sandbox.hang_seconds(fault))
                _drop(environ)
        if endpoint in codes.OPEN_ENDPOINTS:
            callers = []
        else:
            callers = sandbox.authenticate(request.headers.get(codes.API_KEY_HEADER),
                                           request.headers.get(codes.API_SECRET_HEADER))
            if not callers:
                return self.auth_error()
        response = getattr(self, f"on_{endpoint}")(request, callers, **args)
        if fault is not None and fault.kind.startswith("commit_then_"):
            # The work is done (and kept); the answer never arrives.
            if fault.kind == "commit_then_timeout":
                sandbox.wait(sandbox.hang_seconds(fault))
            _drop(environ)
        return response

    def status_fault(self, kind) -> Response:
        status = int(kind)
        if status == 500:
            return error(500, handler=codes.AUTH_HANDLER, details="internal server error",
                         public_message="an internal error occurred, kindly try again later")
        if status == 429:
            return error(429, handler=codes.AUTH_HANDLER, details="rate limit exceeded",
                         public_message="too many requests, kindly try again later", headers={"Retry-After": "1"})
        # 502/503/504 come from the load balancer in front of the app: not JSON.
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
        headers = {"Retry-After": "2"} if status == 503 else None
        return Response(f"<html><body><h1>{status} {reason}</h1></body></html>", status=status, headers=headers,
                        content_type="text/html")

    def auth_error(self) -> Response:
        if self.sandbox.auth_mode == "401":
            return error(401, handler=codes.AUTH_HANDLER, details="invalid api key or secret",
                         public_message=codes.AUTH_PUBLIC_MESSAGE)
        return error(400, handler=codes.AUTH_HANDLER, public_message=codes.AUTH_PUBLIC_MESSAGE)

    # --- helpers --------------------------------------------------------------
    @staticmethod
    def read_json(request):
        raw = request.get_data(cache=True)
        try:
            return raw, json.loads(raw or b"null", parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return raw, ValueError("request body is not valid JSON")

    @staticmethod
    def business_of(callers, business_id):
        for business in callers:
            if business.business_id == str(business_id):
                return business
        return None

    def owned_invoice(self, callers, irn):
        invoice = self.sandbox.invoice(irn)
        if invoice is None or self.business_of(callers, invoice.business_id) is None:
            return None
        return invoice

    def visible_invoice(self, callers, irn):
        """The owner, or a business that is a party to it (the buyer)."""
        invoice = self.sandbox.invoice(irn)
        if invoice is None:
            return None
        tins = {b.tin for b in callers}
        if self.business_of(callers, invoice.business_id) or invoice.party_tin("accounting_customer_party") in tins \
                or invoice.party_tin("accounting_supplier_party") in tins:
            return invoice
        return None

    def check_business_id(self, value, callers):
        """(business, violations) for a body's business_id."""
        field = f"{codes.FIELD_PATH_ROOT}.businessid"
        if value in (None, ""):
            return None, [Violation(field, "is required")]
        problem = uuid_problem(value)
        if problem:
            return None, [Violation(field, problem, details=problem)]
        business = self.business_of(callers, str(uuid.UUID(str(value))))
        if business is None:
            return None, [Violation(field, "business not found")]
        return business, []

    def checked_invoice(self, request, callers, *, signing=False):
        """(raw, body, business, None) when valid, else (…, error response).

        A client validates a document and then signs the very same bytes
        (invoicing.services: validate → sign), so a body found valid is kept
        (`Sandbox.keep_valid_body`) under its bytes and the caller's
        businesses, all the check reads besides the body, and the sign of
        those bytes by those callers takes it instead of parsing and checking
        them again: the same check on the same input, made once. Only a sign
        takes a kept body (and stores it with the invoice); a failure is never
        kept, so each one answers afresh."""
        raw = request.get_data(cache=True)
        key = (raw, tuple((b.business_id, b.service_id) for b in callers))
        body = self.sandbox.take_valid_body(key) if signing else None
        if body is not None:
            return raw, body, self.business_of(callers, body["business_id"]), None
        raw, body = self.read_json(request)
        if isinstance(body, ValueError):
            return raw, None, None, validation_error([Violation(f"{codes.FIELD_PATH_ROOT}", str(body))])
        if not isinstance(body, dict):
            return raw, None, None, validation_error([Violation(f"{codes.FIELD_PATH_ROOT}", "must be a JSON object")])
        business, violations = self.check_business_id(body.get("business_id"), callers)
        violations += check_invoice(body, business)
        if violations:
            return raw, body, business, validation_error(violations)
        if not signing:
            self.sandbox.keep_valid_body(key, body)
        return raw, body, business, None

    # --- FIRS endpoints ---------------------------------------------------------
    def on_health(self, request, callers):
        return json_response({"healthy": True})

    def on_resources(self, request, callers, resource):
        try:
            return ok(codes.resource(resource))
        except KeyError:
            return no_route()

    def on_irn_validate(self, request, callers):
        raw, body = self.read_json(request)
        if not isinstance(body, dict):
            return validation_error([Violation(codes.FIELD_PATH_ROOT, "must be a JSON object")])
        business, violations = self.check_business_id(body.get("business_id"), callers)
        irn, reference = body.get("irn"), body.get("invoice_reference")
        irn_field = f"{codes.FIELD_PATH_ROOT}.irn"
        if not isinstance(irn, str) or not irn:
            violations.append(Violation(irn_field, "is required"))
        elif business is not None:
            match = IRN_RE.match(irn)
            if not match or match["service_id"] != business.service_id:
                violations.append(Violation(irn_field, f"does not match the business irn template {business.irn_template}"))
            elif match["invoice_number"] != reference:
                violations.append(Violation(f"{codes.FIELD_PATH_ROOT}.invoicereference", "does not match the irn"))
        if not reference:
            violations.append(Violation(f"{codes.FIELD_PATH_ROOT}.invoicereference", "is required"))
        if violations:
            return validation_error(violations)
        return ok_true()

    def on_validate(self, request, callers):
        _, _, _, failure = self.checked_invoice(request, callers)
        return failure or ok_true()

    def on_sign(self, request, callers):
        raw, body, business, failure = self.checked_invoice(request, callers, signing=True)
        if failure:
            return failure
        if self.sandbox.sign(business, raw, body) is None:
            return error(400, handler=codes.DUPLICATE_HANDLER, details=codes.DUPLICATE_DETAILS,
                         public_message=codes.VALIDATION_PUBLIC_MESSAGE)
        return ok_true(201)

    def on_confirm(self, request, callers, irn):
        invoice = self.owned_invoice(callers, irn)
        return ok(invoice.confirm_data()) if invoice else not_found()

    def on_download(self, request, callers, irn):
        invoice = self.owned_invoice(callers, irn)
        if invoice is None:
            return not_found()
        business = self.sandbox.business(invoice.business_id)
        key = hashlib.sha256(business.api_secret.encode()).digest()
        iv = os.urandom(16)
        encryptor = Cipher(algorithms.AES(key), modes.CFB(iv)).encryptor()
        data = encryptor.update(invoice.raw) + encryptor.finalize()
        return ok({"iv_hex": iv.hex(), "data": base64.b64encode(data).decode("ascii")})

    def on_search(self, request, callers, business_id):
        problem = uuid_problem(business_id)
        if problem:
            return error(400, handler=INVOICE_HANDLER, details=problem, public_message=codes.VALIDATION_PUBLIC_MESSAGE)
        business = self.business_of(callers, str(uuid.UUID(business_id)))
        if business is None:
            return not_found("business not found")
        filters = {k: request.args.get(k) for k in ("irn", "payment_status", "invoice_type_code") if request.args.get(k)}
        items = [
            inv for inv in self.sandbox.invoices()
            if inv["business_id"] == business.business_id
            and all(str(inv.get(k)) == v for k, v in filters.items())
        ]
        size, page = _int_arg(request, "size", 20), _int_arg(request, "page", 1)
        for inv in items:
            inv.pop("body", None)
        return ok({"items": items[(page - 1) * size:page * size], "page": page, "size": size, "total": len(items)})

    def on_update(self, request, callers, irn):
        invoice = self.owned_invoice(callers, irn)
        if invoice is None:
            return not_found()
        _, body = self.read_json(request)
        status = body.get("payment_status") if isinstance(body, dict) else None
        if status not in codes.PAYMENT_STATUSES:
            return validation_error([Violation(path("payment_status"),
                                               f"must be one of {', '.join(codes.PAYMENT_STATUSES)}")])
        with self.sandbox.lock:
            invoice.payment_status = status
            invoice.payment_reference = str(body.get("reference") or "")
        return ok_true()

    def on_transmit(self, request, callers, irn):
        invoice = self.owned_invoice(callers, irn)
        if invoice is None:
            return not_found()
        business = self.sandbox.business(invoice.business_id)
        if not business.webhook_url:
            return error(400, handler=INVOICE_HANDLER, details=NO_WEBHOOK_DETAILS,
                         public_message=codes.VALIDATION_PUBLIC_MESSAGE)
        self.sandbox.transmit(invoice, business)
        return ok_true()

    def on_transmit_confirm(self, request, callers, irn):
        invoice = self.visible_invoice(callers, irn)
        if invoice is None:
            return not_found()
        with self.sandbox.lock:
            invoice.delivered = True
            invoice.delivered_at = invoice.delivered_at or datetime.datetime.now(datetime.timezone.utc)
        return ok_true()

    def on_lookup(self, request, callers, irn):
        invoice = self.visible_invoice(callers, irn)
        return ok(invoice.as_dict()) if invoice else not_found()

    def on_lookup_tin(self, request, callers, tin):
        items = [inv for inv in self._visible(callers) if tin in (inv["supplier_tin"], inv["customer_tin"])]
        return ok(items)

    def on_lookup_party(self, request, callers, party_id):
        items = [
            inv for inv in self._visible(callers)
            if party_id in ((inv["body"].get("accounting_supplier_party") or {}).get("id"),
                            (inv["body"].get("accounting_customer_party") or {}).get("id"))
        ]
        return ok(items)

    def _visible(self, callers):
        ids = {b.business_id for b in callers}
        tins = {b.tin for b in callers}
        return [inv for inv in self.sandbox.invoices()
                if inv["business_id"] in ids or inv["customer_tin"] in tins or inv["supplier_tin"] in tins]

    def on_pull(self, request, callers):
        tins = {b.tin for b in callers}
        confirmed = request.args.get("confirmed")
        since, until = request.args.get("from"), request.args.get("to")
        items = []
        for inv in self.sandbox.invoices():
            if inv["customer_tin"] not in tins or not inv["transmitted"]:
                continue
            if confirmed is not None and (confirmed.lower() == "true") != inv["delivered"]:
                continue
            day = (inv["transmitted_at"] or "")[:10]
            if (since and day < since) or (until and day > until):
                continue
            items.append(inv)
        return ok(items)

    def on_self_health_check(self, request, callers):
        return ok({"healthy": True, "webhooks": {b.business_id: bool(b.webhook_url) for b in callers}})

    def on_entity_search(self, request, callers):
        reference = request.args.get("reference")
        entities = [self._entity(b) for b in callers if not reference or reference in (b.name, b.tin)]
        size, page = _int_arg(request, "size", 20), _int_arg(request, "page", 1)
        return ok({"items": entities[(page - 1) * size:page * size], "page": page, "size": size,
                   "total": len(entities)})

    def on_entity(self, request, callers, entity_id):
        problem = uuid_problem(entity_id)
        if problem:
            return error(400, handler="entity_actions", details=problem, public_message=codes.VALIDATION_PUBLIC_MESSAGE)
        for business in callers:
            if business.entity_id == str(uuid.UUID(entity_id)):
                return ok(self._entity(business))
        return not_found("entity not found", handler="entity_actions")

    @staticmethod
    def _entity(business):
        return {
            "id": business.entity_id,
            "reference": business.tin,
            "businesses": [{"id": business.business_id, "name": business.name, "tin": business.tin,
                            "service_id": business.service_id, "irn_template": business.irn_template}],
        }

    def on_party_create(self, request, callers):
        _, body = self.read_json(request)
        if not isinstance(body, dict):
            return validation_error([Violation(codes.FIELD_PATH_ROOT, "must be a JSON object")])
        business, violations = self.check_business_id(body.get("business_id"), callers)
        for key, message in (("party_name", "is required"), ("tin", "is required"), ("email", "is required")):
            if not body.get(key):
                violations.append(Violation(f"{codes.FIELD_PATH_ROOT}.{key.replace('_', '')}", message))
        if body.get("tin") and len(str(body["tin"])) < codes.MIN_TIN_LENGTH:
            violations.append(Violation(f"{codes.FIELD_PATH_ROOT}.tin",
                                        f"must be at least {codes.MIN_TIN_LENGTH} characters"))
        if body.get("telephone") and not str(body["telephone"]).startswith("+"):
            violations.append(Violation(f"{codes.FIELD_PATH_ROOT}.telephone", "must start with + (country code)"))
        if violations:
            return validation_error(violations)
        party = {**body, "id": str(uuid.uuid4()), "business_id": business.business_id}
        with self.sandbox.lock:
            self.sandbox.parties[party["id"]] = party
        return ok(party, status=201)

    def on_party_list(self, request, callers, business_id):
        problem = uuid_problem(business_id)
        if problem:
            return error(400, handler=INVOICE_HANDLER, details=problem, public_message=codes.VALIDATION_PUBLIC_MESSAGE)
        if self.business_of(callers, str(uuid.UUID(business_id))) is None:
            return not_found("business not found")
        with self.sandbox.lock:
            parties = [p for p in self.sandbox.parties.values() if p["business_id"] == str(uuid.UUID(business_id))]
        return ok(parties)

    def on_verify_tin(self, request, callers):
        _, body = self.read_json(request)
        tin = str(body.get("tin") or "") if isinstance(body, dict) else ""
        if len(tin) < codes.MIN_TIN_LENGTH:
            return validation_error([Violation(f"{codes.FIELD_PATH_ROOT}.tin",
                                               f"must be at least {codes.MIN_TIN_LENGTH} characters")],
                                    handler="utility_actions")
        with self.sandbox.lock:
            known = [{"taxpayer_name": b.name, "email": b.email} for b in self.sandbox.businesses.values()
                     if b.tin == tin]
            known += [{"taxpayer_name": p.get("party_name", ""), "email": p.get("email", "")}
                      for p in self.sandbox.parties.values() if p.get("tin") == tin]
        if not known:
            return not_found("tin not found", handler="utility_actions")
        # The shape of FIRS's documented 200 sample; fields we cannot know are empty.
        return ok({"address": "", "email": known[0]["email"], "id": str(uuid.uuid4()), "jtb_tin": "",
                   "message": "TIN Information", "phone": "", "rc_number": "", "status": "200 OK",
                   "taxofficer_id": "", "taxofficer_name": "", "taxpayer_name": known[0]["taxpayer_name"],
                   "taxpayer_type": "C", "tin": tin})

    def on_authenticate(self, request, callers):
        _, body = self.read_json(request)
        body = body if isinstance(body, dict) else {}
        with self.sandbox.lock:
            for business in self.sandbox.businesses.values():
                if business.email == body.get("email") and business.password == body.get("password"):
                    return ok({"entity_id": business.entity_id, "id": str(uuid.uuid4()), "message": "User logged in",
                               "received_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                               "status": "200 OK"})
        return error(400, handler="auth_actions", details="invalid email or password",
                     public_message="invalid email or password")

    # --- control endpoints --------------------------------------------------------
    def _body(self, request) -> dict:
        _, body = self.read_json(request)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApplicationError("control request body must be a JSON object")
        return body

    def ctl_businesses(self, request):
        if request.method == "GET":
            with self.sandbox.lock:
                return json_response([b.as_dict() for b in self.sandbox.businesses.values()])
        allowed = {"name", "tin", "service_id", "business_id", "entity_id", "api_key", "api_secret", "email",
                   "password", "webhook_url"}
        body = self._body(request)
        unknown = set(body) - allowed
        if unknown:
            raise ApplicationError(f"unknown fields: {', '.join(sorted(unknown))}")
        return json_response(self.sandbox.register_business(**body).as_dict(), 201)

    def ctl_faults(self, request):
        if request.method == "DELETE":
            self.sandbox.clear_faults()
        elif request.method == "POST":
            body = self._body(request)
            if "rules" in body:
                self.sandbox.clear_faults()
                rules = body["rules"]
            else:
                rules = [body]
            for rule in rules:
                rule = dict(rule)
                self.sandbox.set_fault(rule.pop("endpoint", "*"), rule.pop("kind", None), **rule)
        with self.sandbox.lock:
            return json_response([r.as_dict() for r in self.sandbox.faults])

    def ctl_latency(self, request):
        if request.method == "POST":
            self.sandbox.set_latency(**self._body(request))
        return json_response(self.sandbox.latency)

    def ctl_auth(self, request):
        self.sandbox.set_auth_mode(self._body(request).get("mode"))
        return json_response({"mode": self.sandbox.auth_mode})

    def ctl_webhook(self, request):
        body = self._body(request)
        self.sandbox.set_webhook(body.get("business_id"), body.get("url"))
        return json_response({"ok": True})

    def ctl_invoices(self, request):
        invoices = self.sandbox.invoices()
        irn = request.args.get("irn")
        return json_response([i for i in invoices if not irn or i["irn"] == irn])

    def ctl_webhooks(self, request):
        with self.sandbox.lock:
            return json_response(list(self.sandbox.webhook_log))

    def ctl_requests(self, request):
        with self.sandbox.lock:
            return json_response(dict(self.sandbox.requests))

    def ctl_verify_stamp(self, request):
        stamp = self._body(request).get("stamp")
        if not isinstance(stamp, str):
            raise ApplicationError("stamp is required")
        return json_response(self.sandbox.verify_stamp(stamp))

    def ctl_reset(self, request):
        self.sandbox.reset(keep_businesses=bool(self._body(request).get("keep_businesses")))
        return json_response({"ok": True})


def create_app(*, seed=None, hang_seconds=35.0, auth_mode="400", latency=None, businesses=()):
    """The FIRS sandbox WSGI app. `latency` is a dict for `Sandbox.set_latency`
    (default none); `businesses` a list of dicts for `register_business`."""
    sandbox = Sandbox(seed=seed, hang_seconds=hang_seconds, auth_mode=auth_mode, latency=latency)
    for options in businesses:
        sandbox.register_business(**options)
    return FirsSandboxApp(sandbox)

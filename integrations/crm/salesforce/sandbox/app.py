"""WSGI app of the Salesforce sandbox (see the package docstring for the
protocol it speaks and the control API)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from urllib.parse import urlencode, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from integrations.crm.salesforce import facts

from .outbound_sender import OutboundConfig, OutboundSender
from .soql import SoqlError, execute, parse
from .store import OAuthError, SandboxError, Store, _jsonable, format_datetime

_VERSION = re.compile(r"^v\d{2,3}\.\d$")
_CODE_TTL = 15 * 60  # authorization codes live 15 minutes

# OAuth error texts the sandbox returns. "audience is invalid", "user hasn't
# approved this consumer", "client identifier invalid" and "expired
# access/refresh token" are Salesforce's; the others are UNCONFIRMED wordings.
JWT_ERRORS = {
    "signature": ("invalid_grant", "invalid assertion"),
    "issuer": ("invalid_client_id", "client identifier invalid"),
    "audience": ("invalid_grant", "audience is invalid"),
    "expired": ("invalid_grant", "invalid assertion: expired"),
    "too_long": ("invalid_grant", "invalid assertion: exp too far in the future"),
    "subject": ("invalid_grant", "user hasn't approved this consumer"),
}


def _json(data, status=200, headers=None):
    return Response(json.dumps(data, default=_jsonable), status=status, headers=headers,
                    content_type="application/json;charset=UTF-8")


def _oauth_error(error, description, status=400):
    return _json({"error": error, "error_description": description}, status=status)


class SalesforceSandbox:
    """The in-process control object (`app.sandbox`): the store, the outbound
    sender and the settings tests change directly."""

    def __init__(self, **options):
        outbound = {k[len("outbound_"):]: options.pop(k) for k in list(options) if k.startswith("outbound_")}
        auto = outbound.pop("auto", True)
        self.store = Store(**options)
        self.outbound = OutboundSender(self.store, OutboundConfig(**outbound), auto=auto)
        self.faults: list[dict] = []

    def reset(self):
        self.set_faults([])
        self.store.reset()
        self.outbound.reset()
        self.outbound.action_id = self.store.new_id("WorkflowOutboundMessage")

    def configure_app(self, **changes):
        app = self.store.app
        for key, value in changes.items():
            if not hasattr(app, key):
                raise ValueError(f"unknown connected app setting {key}")
            if key == "preauthorized_usernames":
                value = set(value)
            setattr(app, key, value)
        return app

    def configure_outbound(self, **changes):
        for key, value in changes.items():
            if not hasattr(self.outbound.config, key):
                raise ValueError(f"unknown outbound setting {key}")
            setattr(self.outbound.config, key, tuple(value) if key in ("fields", "trigger_stages") and value else value)
        return self.outbound.config

    def set_faults(self, faults: list[dict]) -> list[dict]:
        """Fail on demand, as the Square sandbox does: each fault is {path
        (prefix), method?, status (default 503), count (None: every call
        until faults are set again)}; [] recovers."""
        with self.store.lock:
            self.faults = [{"path": f.get("path", "/"), "method": f.get("method"),
                            "status": int(f.get("status", 503)), "remaining": f.get("count")} for f in faults]
            return [dict(f) for f in self.faults]

    def take_fault(self, method: str, path: str) -> int | None:
        with self.store.lock:
            for fault in self.faults:
                if not path.startswith(fault["path"]) or fault["method"] not in (None, method):
                    continue
                if fault["remaining"] is not None:
                    if fault["remaining"] <= 0:
                        continue
                    fault["remaining"] -= 1
                return fault["status"]
            return None

    def seed(self, **data):
        return self.store.seed(**data)

    def update_opportunity(self, record_id, **fields):
        """A user's edit in Salesforce (not an API call): no read-only check, no API usage."""
        return self.store.update("Opportunity", record_id, fields, api=False)

    def opportunity(self, record_id):
        return self.store.get("Opportunity", record_id)


class SalesforceSandboxApp:
    def __init__(self, **options):
        self.sandbox = SalesforceSandbox(**options)
        self.store = self.sandbox.store
        self.url_map = Map([
            Rule("/services/oauth2/authorize", endpoint="authorize", methods=["GET", "POST"]),
            Rule("/services/oauth2/token", endpoint="token", methods=["POST"]),
            Rule("/services/oauth2/revoke", endpoint="revoke", methods=["GET", "POST"]),
            Rule("/id/<org_id>/<user_id>", endpoint="identity", methods=["GET"]),
            Rule("/services/data", endpoint="versions", methods=["GET"]),
            Rule("/services/data/<version>/query", endpoint="query", methods=["GET"]),
            Rule("/services/data/<version>/queryAll", endpoint="query_all", methods=["GET"]),
            Rule("/services/data/<version>/query/<locator>", endpoint="query_more", methods=["GET"]),
            Rule("/services/data/<version>/queryAll/<locator>", endpoint="query_more", methods=["GET"]),
            Rule("/services/data/<version>/sobjects/<sobject>/<record_id>", endpoint="sobject", methods=["GET", "PATCH"]),
            Rule("/services/data/<version>/limits", endpoint="limits", methods=["GET"]),
            Rule("/_sandbox/reset", endpoint="c_reset", methods=["POST"]),
            Rule("/_sandbox/state", endpoint="c_state", methods=["GET"]),
            Rule("/_sandbox/connected-app", endpoint="c_app", methods=["GET", "POST"]),
            Rule("/_sandbox/seed", endpoint="c_seed", methods=["POST"]),
            Rule("/_sandbox/opportunities/<record_id>", endpoint="c_opportunity", methods=["GET", "POST", "PATCH", "DELETE"]),
            Rule("/_sandbox/limits", endpoint="c_limits", methods=["POST"]),
            Rule("/_sandbox/tokens", endpoint="c_tokens", methods=["POST"]),
            Rule("/_sandbox/settings", endpoint="c_settings", methods=["POST"]),
            Rule("/_sandbox/outbound", endpoint="c_outbound", methods=["GET", "POST"]),
            Rule("/_sandbox/outbound/log", endpoint="c_outbound_log", methods=["GET"]),
            Rule("/_sandbox/outbound/resend", endpoint="c_outbound_resend", methods=["POST"]),
            Rule("/_sandbox/outbound/flush", endpoint="c_outbound_flush", methods=["POST"]),
            Rule("/_sandbox/cdc", endpoint="c_cdc", methods=["GET"]),
            Rule("/_sandbox/faults", endpoint="c_faults", methods=["PUT"]),
        ], strict_slashes=False, merge_slashes=False)

    def set_base_url(self, url: str):
        self.store.base_url = url.rstrip("/")

    # ----------------------------------------------------------------- WSGI
    def __call__(self, environ, start_response):
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            fault = None if endpoint.startswith("c_") else self.sandbox.take_fault(request.method, request.path)
            if fault:  # the shape of a Salesforce REST error; a real outage may answer otherwise
                raise SandboxError(fault, "SERVER_UNAVAILABLE", f"Injected fault ({fault}).")
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except SandboxError as exc:
            response = self._rest_error(exc)
        except OAuthError as exc:
            response = _oauth_error(exc.error, exc.description, exc.status)
        except NotFound:
            if request.path.startswith("/services/data/"):
                response = self._rest_error(SandboxError(404, "NOT_FOUND", "The requested resource does not exist"))
            else:
                response = _json([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404)
        except HTTPException as exc:
            response = exc.get_response(environ)
        return response(environ, start_response)

    def _rest_error(self, exc: SandboxError):
        body = [{"message": exc.message, "errorCode": exc.error_code, "fields": exc.fields}]
        return _json(body, exc.status, headers={facts.LIMIT_INFO_HEADER: self.store.limit_info()})

    def _api(self, request, version):
        """Common REST prologue: version, session, then the daily allocation."""
        if not _VERSION.match(version):
            raise SandboxError(404, "NOT_FOUND", "The requested resource does not exist")
        self.store.authenticate(request.headers.get("Authorization"))
        self.store.count_api_call()

    def _ok(self, data, status=200):
        return _json(data, status, headers={facts.LIMIT_INFO_HEADER: self.store.limit_info()})

    # ---------------------------------------------------------------- OAuth
    def _check_redirect(self, redirect_uri: str) -> bool:
        allowed = self.store.app.redirect_uris
        if allowed is None:
            parsed = urlparse(redirect_uri)
            return parsed.scheme in ("http", "https") and parsed.hostname in ("127.0.0.1", "localhost", "testserver")
        return redirect_uri in allowed

    def on_authorize(self, request):
        params = request.values
        app = self.store.app
        if params.get("client_id") != app.consumer_key:
            return self._page("OAuth error", "error=invalid_client_id: client identifier invalid", 400)
        redirect_uri = params.get("redirect_uri", "")
        if not self._check_redirect(redirect_uri):
            return self._page("OAuth error", "error=redirect_uri_mismatch: redirect_uri must match configuration", 400)
        state = params.get("state")

        def back(**query):
            if state is not None:
                query["state"] = state
            sep = "&" if "?" in redirect_uri else "?"
            return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{urlencode(query)}"})

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="response type not supported")
        method = params.get("code_challenge_method", "S256")
        if params.get("code_challenge") and method != "S256":
            return back(error="invalid_request", error_description="code_challenge_method must be S256")
        if request.method == "GET":
            return self._consent(params)
        if params.get("decision") != "allow":
            return back(error="access_denied", error_description="end-user denied authorization")
        code = "aPrx" + secrets.token_urlsafe(40)
        self.store.codes[code] = {
            "client_id": app.consumer_key, "redirect_uri": redirect_uri, "scope": params.get("scope") or "api refresh_token",
            "code_challenge": params.get("code_challenge"), "expires_at": time.time() + _CODE_TTL,
            "username": self.store.username,
        }
        return back(code=code)

    def _consent(self, params):
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items(multi=True) if k != "decision"
        )
        scopes = ", ".join(html.escape(s) for s in (params.get("scope") or "api refresh_token").split())
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Allow Access?</title></head><body>'
            '<main><h1>Allow Access?</h1>'
            f'<p>TaxPoynt is asking to access your Salesforce data as <strong>{html.escape(self.store.username)}</strong>.</p>'
            f'<p id="scopes">Requested access: {scopes}</p>'
            f'<form method="post" action="/services/oauth2/authorize" aria-describedby="scopes">{hidden}'
            '<button type="submit" name="decision" value="allow">Allow</button> '
            '<button type="submit" name="decision" value="deny">Deny</button>'
            '</form></main></body></html>'
        )
        return Response(body, content_type="text/html; charset=utf-8")

    def _page(self, title, text, status):
        body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
                f'<body><main><h1>{html.escape(title)}</h1><p role="alert">{html.escape(text)}</p></main></body></html>')
        return Response(body, status=status, content_type="text/html; charset=utf-8")

    def _client(self, request, *, secret_required):
        form = request.form
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id, client_secret = request.authorization.username, request.authorization.password
        app = self.store.app
        if client_id != app.consumer_key:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client_secret is not None or (secret_required and app.require_secret):
            if not client_secret or not hmac.compare_digest(client_secret, app.consumer_secret):
                raise OAuthError("invalid_client", "invalid client credentials")
        return client_id

    def on_token(self, request):
        grant = request.form.get("grant_type")
        with self.store.lock:
            if grant == "authorization_code":
                return self._grant_code(request)
            if grant == "refresh_token":
                return self._grant_refresh(request)
            if grant == facts.JWT_BEARER_GRANT_TYPE:
                return self._grant_jwt(request)
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _grant_code(self, request):
        form = request.form
        entry = self.store.codes.get(form.get("code", ""))
        # A PKCE client may omit the secret only when it sends a verifier.
        client_id = self._client(request, secret_required=not (entry and entry["code_challenge"]))
        if entry is None:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if entry["expires_at"] < time.time() or entry.get("used"):
            raise OAuthError("invalid_grant", "expired authorization code")
        if entry["client_id"] != client_id:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if form.get("redirect_uri") != entry["redirect_uri"]:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if entry["code_challenge"]:
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not verifier or not hmac.compare_digest(digest, entry["code_challenge"]):
                raise OAuthError("invalid_grant", "invalid code verifier")
        entry["used"] = True
        scope = entry["scope"]
        with_refresh = any(s in facts.REFRESH_SCOPES for s in scope.split())
        return _json(self.store.issue_tokens(username=entry["username"], client_id=client_id, scope=scope,
                                             with_refresh=with_refresh))

    def _grant_refresh(self, request):
        client_id = self._client(request, secret_required=True)
        token = request.form.get("refresh_token", "")
        found = self.store.refresh_tokens.get(token)
        if found is None or found.client_id != client_id:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        if self.store.app.refresh_mode == "rotate":
            self.store.revoke(token)
            body = self.store.issue_tokens(username=found.username, client_id=client_id, scope=found.scope, with_refresh=True)
        else:
            body = self.store.issue_tokens(username=found.username, client_id=client_id, scope=found.scope,
                                           with_refresh=False, refresh_token=token)
            # No rotation: the response carries no refresh_token.
        return _json(body)

    def _jwt_key(self):
        pem = self.store.app.certificate_pem
        if not pem:
            raise OAuthError(*JWT_ERRORS["signature"])
        data = pem.encode() if isinstance(pem, str) else pem
        if b"BEGIN CERTIFICATE" in data:
            return x509.load_pem_x509_certificate(data).public_key()
        return load_pem_public_key(data)

    def _grant_jwt(self, request):
        assertion = request.form.get("assertion", "")
        try:
            claims = jwt.decode(assertion, self._jwt_key(), algorithms=["RS256"],
                                options={"verify_aud": False, "verify_iss": False, "verify_exp": False})
        except jwt.PyJWTError:
            raise OAuthError(*JWT_ERRORS["signature"]) from None
        app = self.store.app
        if claims.get("iss") != app.consumer_key:
            raise OAuthError(*JWT_ERRORS["issuer"])
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        allowed = {self.store.login_url, *app.extra_audiences}
        if not any(a in allowed for a in audiences):
            raise OAuthError(*JWT_ERRORS["audience"])
        exp = claims.get("exp")
        now = time.time()
        if not isinstance(exp, (int, float)) or exp <= now:
            raise OAuthError(*JWT_ERRORS["expired"])
        if exp > now + facts.JWT_MAX_LIFETIME_SECONDS:
            raise OAuthError(*JWT_ERRORS["too_long"])
        if claims.get("sub") not in app.preauthorized_usernames:
            raise OAuthError(*JWT_ERRORS["subject"])
        # JWT bearer: no refresh token is issued.
        return _json(self.store.issue_tokens(username=claims["sub"], client_id=app.consumer_key, scope="api id",
                                             with_refresh=False))

    def on_revoke(self, request):
        token = request.values.get("token", "")
        if not token or not self.store.revoke(token):
            return _oauth_error("invalid_token", "invalid token")
        return Response(status=200)

    def on_identity(self, request, org_id, user_id):
        self.store.authenticate(request.headers.get("Authorization"))
        return _json({"id": self.store.identity_url(self.store.username), "organization_id": self.store.org_id,
                      "user_id": self.store.user_id, "username": self.store.username,
                      "urls": {"rest": f"{self.store.base_url}/services/data/v{{version}}/",
                               "query": f"{self.store.base_url}/services/data/v{{version}}/query/"}})

    # ------------------------------------------------------------------ REST
    def on_versions(self, request):
        return _json([{"label": "Spring '24", "url": f"/services/data/v{facts.API_VERSION}", "version": facts.API_VERSION}])

    def on_query(self, request, version, include_deleted=False):
        self._api(request, version)
        soql = request.args.get("q")
        if not soql:
            raise SandboxError(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            query = parse(soql)
            with self.store.lock:
                rows = execute(self.store, query, include_deleted=include_deleted)
        except SoqlError as exc:
            raise SandboxError(400, exc.error_code, exc.message) from None
        return self._ok(self._page_of(version, rows, 0, locator=None, include_deleted=include_deleted))

    def on_query_all(self, request, version):
        return self.on_query(request, version, include_deleted=True)

    def _page_of(self, version, rows, offset, *, locator, include_deleted):
        size = self.store.batch_size
        batch = rows[offset:offset + size]
        body = {"totalSize": len(rows), "done": offset + size >= len(rows), "records": batch}
        if not body["done"]:
            if locator is None:
                locator = self.store.new_id("QueryLocator")
                self.store.locators[locator] = {"rows": rows, "created": time.time()}
            endpoint = "queryAll" if include_deleted else "query"
            body["nextRecordsUrl"] = f"/services/data/{version}/{endpoint}/{locator}-{offset + size}"
        return body

    def on_query_more(self, request, version, locator):
        self._api(request, version)
        locator_id, _, offset = locator.rpartition("-")
        entry = self.store.locators.get(locator_id)
        if entry is None or not offset.isdigit() or int(offset) > len(entry["rows"]):
            raise SandboxError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._ok(self._page_of(version, entry["rows"], int(offset), locator=locator_id,
                                      include_deleted="/queryAll/" in request.path))

    def on_sobject(self, request, version, sobject, record_id):
        self._api(request, version)
        schema = self.store.schema(sobject)
        if schema is None:
            raise SandboxError(404, "NOT_FOUND", "The requested resource does not exist")
        if request.method == "PATCH":
            try:
                values = json.loads(request.get_data() or b"{}")
            except ValueError:
                raise SandboxError(400, "JSON_PARSER_ERROR", "Unexpected character in request body") from None
            if not isinstance(values, dict):
                raise SandboxError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from array")
            values.pop("attributes", None)
            self.store.update(schema.name, record_id, values)
            return Response(status=204, headers={facts.LIMIT_INFO_HEADER: self.store.limit_info()})
        with self.store.lock:
            record = self.store.get(schema.name, record_id)
            if record is None or record["IsDeleted"]:
                raise SandboxError(404, "NOT_FOUND", "The requested resource does not exist")
            wanted = request.args.get("fields")
            names = list(schema.fields)
            if wanted:
                names = []
                for name in wanted.split(","):
                    canonical = schema.field_name(name.strip())
                    if canonical is None:
                        raise SandboxError(400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{schema.name}'")
                    names.append(canonical)
            body = {"attributes": {"type": schema.name, "url": self.store.record_url(schema.name, record["Id"])}}
            body.update({name: record[name] for name in names})
        return self._ok(body)

    def on_limits(self, request, version):
        self._api(request, version)
        store = self.store
        return self._ok({
            "DailyApiRequests": {"Max": store.daily_limit, "Remaining": max(store.daily_limit - store.api_usage, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyStreamingApiEvents": {"Max": 10000, "Remaining": 10000},
            "DailyWorkflowEmails": {"Max": 1000, "Remaining": 1000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        })

    # --------------------------------------------------------------- control
    def _body(self, request):
        try:
            return json.loads(request.get_data() or b"{}")
        except ValueError:
            raise SandboxError(400, "JSON_PARSER_ERROR", "control body must be JSON") from None

    def on_c_reset(self, request):
        self.sandbox.reset()
        return _json({"ok": True})

    def on_c_state(self, request):
        store = self.store
        return _json({
            "org_id": store.org_id, "user_id": store.user_id, "username": store.username,
            "login_url": store.login_url, "instance_url": store.base_url, "api_usage": store.api_usage,
            "daily_limit": store.daily_limit, "batch_size": store.batch_size,
            "counts": {name: len(rows) for name, rows in store.data.items()},
            "stages": {name: {"IsClosed": c, "IsWon": w} for name, (c, w) in store.stages.items()},
        })

    def on_c_app(self, request):
        if request.method == "POST":
            try:
                self.sandbox.configure_app(**self._body(request))
            except (TypeError, ValueError) as exc:
                return _json({"error": str(exc)}, 400)
        app = self.store.app
        return _json({"consumer_key": app.consumer_key, "redirect_uris": app.redirect_uris,
                      "preauthorized_usernames": sorted(app.preauthorized_usernames), "refresh_mode": app.refresh_mode,
                      "has_certificate": bool(app.certificate_pem), "extra_audiences": app.extra_audiences})

    def on_c_seed(self, request):
        return _json(self.sandbox.seed(**self._body(request)), 201)

    def on_c_opportunity(self, request, record_id):
        if request.method in ("POST", "PATCH"):
            self.sandbox.update_opportunity(record_id, **self._body(request))
        elif request.method == "DELETE":
            self.store.delete("Opportunity", record_id)
            return _json({"ok": True})
        record = self.store.get("Opportunity", record_id)
        if record is None:
            raise SandboxError(404, "NOT_FOUND", "The requested resource does not exist")
        return _json({k: _jsonable(v) for k, v in record.items()})

    def on_c_limits(self, request):
        body = self._body(request)
        with self.store.lock:
            if "daily_limit" in body:
                self.store.daily_limit = int(body["daily_limit"])
            if "used" in body:
                self.store.api_usage = int(body["used"])
        return _json({"api_usage": self.store.api_usage, "daily_limit": self.store.daily_limit})

    def on_c_tokens(self, request):
        body = self._body(request)
        if "ttl_seconds" in body:
            self.store.token_ttl = float(body["ttl_seconds"])
        if body.get("expire_all"):
            self.store.expire_access_tokens()
        if body.get("revoke_all"):
            self.store.revoke_all_refresh_tokens()
        return _json({"ttl_seconds": self.store.token_ttl})

    def on_c_settings(self, request):
        body = self._body(request)
        if "batch_size" in body:
            self.store.batch_size = int(body["batch_size"])
        return _json({"batch_size": self.store.batch_size})

    def on_c_outbound(self, request):
        if request.method == "POST":
            try:
                self.sandbox.configure_outbound(**self._body(request))
            except (TypeError, ValueError) as exc:
                return _json({"error": str(exc)}, 400)
        config = self.sandbox.outbound.config
        return _json({**config.__dict__, "action_id": self.sandbox.outbound.action_id})

    def on_c_outbound_log(self, request):
        return _json(self.sandbox.outbound.log)

    def on_c_outbound_resend(self, request):
        ids = self._body(request).get("notification_ids")
        return _json({"queued": self.sandbox.outbound.resend(ids)})

    def on_c_outbound_flush(self, request):
        timeout = float(self._body(request).get("timeout", 10))
        return _json({"idle": self.sandbox.outbound.wait_idle(timeout)})

    def on_c_faults(self, request):
        return _json({"faults": self.sandbox.set_faults(self._body(request).get("faults") or [])})

    def on_c_cdc(self, request):
        try:
            replay_id = int(request.args.get("replayId", "-2"))
        except ValueError:
            raise SandboxError(400, "INVALID_REPLAY_ID", "replayId must be an integer") from None
        events, latest = self.store.cdc_since(replay_id, request.args.get("channel"))
        return _json({"channel": request.args.get("channel") or "/data/ChangeEvents", "events": events,
                      "latestReplayId": latest})


def create_app(**options) -> SalesforceSandboxApp:
    """Options: batch_size (200), daily_limit (15000), token_ttl seconds (7200),
    username, won_stages, seed_demo (False), and outbound_* settings
    (outbound_url, outbound_fields, outbound_trigger_stages, outbound_first_interval,
    outbound_max_interval, outbound_window, outbound_timeout, outbound_auto)."""
    return SalesforceSandboxApp(**options)


__all__ = ["create_app", "SalesforceSandboxApp", "SalesforceSandbox", "format_datetime"]

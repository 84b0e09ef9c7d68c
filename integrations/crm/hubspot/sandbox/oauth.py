"""HubSpot OAuth 2.0 as the sandbox serves it (the 2026-03 OAuth API; facts.OAUTH_*).

GET  /oauth/authorize                  consent page (HTML) with a "Grant access" form
POST /oauth/authorize                  the form post → 302 to redirect_uri?code=…&state=…
POST /oauth/2026-03/token              authorization_code (+ PKCE) and refresh_token grants
POST /oauth/2026-03/token/introspect   an access or refresh token's metadata ({"active": false} when not active)
POST /oauth/2026-03/token/revoke       revoke a refresh token (200); issued access tokens stay valid
(the same under /oauth/v3/…). Every one takes a form-encoded body with client_id and client_secret.

Errors: 400 {"error", "error_description", "status", "message"} (facts.OAUTH_ERRORS). A failed PKCE
check answers BAD_AUTH_CODE (UNCONFIRMED).
"""
import base64
import hashlib
import hmac
from html import escape
from urllib.parse import urlencode

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from . import facts
from .responses import HubSpotError, json_response


def oauth_error(status: str) -> HubSpotError:
    """HubSpot's OAuth error: RFC 6749's fields and the legacy ones (facts.OAUTH_ERRORS)."""
    error, message = facts.OAUTH_ERRORS[status]
    exc = HubSpotError(400, message)
    exc.body = {"error": error, "error_description": message, "status": status, "message": message}
    return exc


def _client(sb, form):
    """The app whose client_id and client_secret the body carries."""
    app = sb.store.apps.get(form.get("client_id") or "")
    if app is None:
        raise oauth_error("BAD_CLIENT_ID")
    if not hmac.compare_digest(app.client_secret, form.get("client_secret") or ""):
        raise oauth_error("BAD_CLIENT_SECRET")
    return app


def _error_page(message: str) -> Response:
    html = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Authorization error</title></head>"
            f"<body><main><h1>Authorization error</h1><p role=alert>{escape(message)}</p></main></body></html>")
    return Response(html, status=400, mimetype="text/html")


def _check_client(sb, client_id: str, redirect_uri: str):
    app = sb.store.apps.get(client_id or "")
    if app is None:
        return None, "Unknown client_id: this app does not exist."
    if not redirect_uri:
        return None, "Missing redirect_uri."
    if app.redirect_uris and redirect_uri not in app.redirect_uris:
        return None, "The redirect_uri does not match the app's configured redirect URL."
    return app, None


def authorize_page(sb, request) -> Response:
    args = request.args
    app, problem = _check_client(sb, args.get("client_id"), args.get("redirect_uri"))
    if problem:
        return _error_page(problem)
    scopes = (args.get("scope") or "").split()
    if not scopes:
        return _error_page("The scope parameter is required.")
    method = args.get("code_challenge_method")
    if args.get("code_challenge") and method not in (None, "S256", "plain"):
        return _error_page("Unsupported code_challenge_method.")
    optional = (args.get("optional_scope") or "").split()
    fields = {k: args.get(k) or "" for k in ("client_id", "redirect_uri", "scope", "optional_scope", "state",
                                               "code_challenge", "code_challenge_method")}
    hidden = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in fields.items())
    items = "".join(f"<li>{escape(s)}</li>" for s in scopes + optional)
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect app to HubSpot (sandbox)</title></head>
<body><main>
<h1>Connect to HubSpot account {sb.store.portal_id}</h1>
<p>App <strong>{escape(app.client_id)}</strong> requests access to <strong>{escape(sb.store.hub_domain)}</strong>:</p>
<ul aria-label="Requested scopes">{items}</ul>
<form method="post" action="{escape(sb.url('/oauth/authorize'))}">{hidden}
<button type="submit" name="decision" value="grant">Grant access</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form></main></body></html>"""
    return Response(html, mimetype="text/html")


def authorize_submit(sb, request) -> Response:
    form = request.form
    app, problem = _check_client(sb, form.get("client_id"), form.get("redirect_uri"))
    if problem:
        return _error_page(problem)
    redirect_uri = form["redirect_uri"]
    state = form.get("state") or None
    if form.get("decision") == "deny":
        params = {"error": "access_denied", "error_description": "The user denied access."}
        return redirect(_with_query(redirect_uri, params | ({"state": state} if state else {})), code=302)
    code = grant_code(sb, client_id=app.client_id, redirect_uri=redirect_uri,
                      scopes=(form.get("scope") or "").split() + (form.get("optional_scope") or "").split(),
                      code_challenge=form.get("code_challenge") or None,
                      code_challenge_method=form.get("code_challenge_method") or None)
    params = {"code": code} | ({"state": state} if state else {})
    return redirect(_with_query(redirect_uri, params), code=302)


def grant_code(sb, *, client_id, redirect_uri, scopes, code_challenge=None, code_challenge_method=None) -> str:
    if code_challenge and not code_challenge_method:
        code_challenge_method = "plain"
    return sb.store.new_code(client_id=client_id, redirect_uri=redirect_uri, scopes=list(dict.fromkeys(scopes)),
                             code_challenge=code_challenge, code_challenge_method=code_challenge_method).code


def token(sb, request) -> Response:
    form = request.form
    grant_type = form.get("grant_type")
    store = sb.store
    with store.lock:
        app = _client(sb, form)
        if grant_type == "authorization_code":
            code = store.codes.get(form.get("code") or "")
            if code is None or code.client_id != app.client_id or code.used or code.expires_at < store.now():
                raise oauth_error("BAD_AUTH_CODE")
            if form.get("redirect_uri") != code.redirect_uri:
                raise oauth_error("BAD_REDIRECT_URI")
            if code.code_challenge and not _pkce_ok(code, form.get("code_verifier") or ""):
                code.used = True
                raise oauth_error("BAD_AUTH_CODE")
            code.used = True
            access, refresh = store.issue_tokens(client_id=app.client_id, scopes=code.scopes,
                                                 access_ttl=sb.access_token_ttl)
        elif grant_type == "refresh_token":
            refresh = store.tokens.get(form.get("refresh_token") or "")
            if refresh is None or refresh.kind != "refresh" or refresh.revoked or refresh.client_id != app.client_id:
                raise oauth_error("BAD_REFRESH_TOKEN")
            access, refresh = store.issue_tokens(client_id=app.client_id, scopes=refresh.scopes,
                                                 access_ttl=sb.access_token_ttl, refresh_token=refresh.token)
        else:
            raise oauth_error("BAD_GRANT_TYPE")
    return json_response(token_response(sb, access, refresh), headers={"Cache-Control": "no-store"})


def token_response(sb, access, refresh) -> dict:
    """The token endpoint's answer for a newly issued access token (and its refresh token)."""
    return {"token_type": "bearer", "refresh_token": refresh.token, "access_token": access.token,
            "expires_in": sb.access_token_ttl, "hub_id": sb.store.portal_id,
            "scopes": list(access.scopes), "user_id": sb.store.user_id, "token_use": "access_token"}


def _pkce_ok(code, verifier: str) -> bool:
    if not 43 <= len(verifier) <= 128:
        return False
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.code_challenge)


def introspect(sb, request) -> Response:
    """The token's metadata; token_type_hint only says where to look first (RFC 7662), so either kind is found."""
    form = request.form
    store = sb.store
    with store.lock:
        app = _client(sb, form)
        if not form.get("token"):
            raise oauth_error("BAD_TOKEN")
        tok = store.tokens.get(form["token"])
        if (tok is None or tok.client_id != app.client_id or tok.revoked
                or (tok.kind == "access" and tok.expires_at <= store.now())):
            return json_response({"active": False})
        info = {"active": True, "token_use": f"{tok.kind}_token", "token": tok.token, "hub_id": store.portal_id,
                "user_id": store.user_id, "client_id": app.client_id, "app_id": app.app_id,
                "scopes": list(tok.scopes), "token_type": "bearer", "user": store.user,
                "hub_domain": store.hub_domain}
        if tok.kind == "access":
            info |= {"expires_in": int(tok.expires_at - store.now()), "is_private_distribution": False,
                     "signed_access_token": _signed_access_token(sb, app, tok)}
    return json_response(info)


def _signed_access_token(sb, app, tok) -> dict:
    scopes = ",".join(tok.scopes)
    signature = hmac.new(app.client_secret.encode(), tok.token.encode(), hashlib.sha256).hexdigest()
    return {"appId": app.app_id, "expiresAt": int(tok.expires_at * 1000), "hubId": sb.store.portal_id,
            "hublet": "na1", "installingUserId": sb.store.user_id, "isPrivateDistribution": False,
            "isServiceAccount": False, "isUserLevel": False, "newSignature": signature,
            "scopeToScopeGroupPks": "", "scopes": scopes, "signature": signature,
            "trialScopeToScopeGroupPks": "", "trialScopes": "", "userId": sb.store.user_id}


def revoke(sb, request) -> Response:
    """Revoke a refresh token: 200, no body, also for one unknown or already revoked (RFC 7009)."""
    form = request.form
    with sb.store.lock:
        app = _client(sb, form)
        if not form.get("token"):
            raise oauth_error("BAD_TOKEN")
        tok = sb.store.tokens.get(form["token"])
        if tok is not None and tok.client_id == app.client_id:
            if tok.kind != "refresh":
                raise oauth_error("BAD_TOKEN_TYPE")
            tok.revoked = True
    return Response(status=200)


def _with_query(url: str, params: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)

"""HubSpot OAuth 2.0 as the sandbox serves it.

GET  /oauth/authorize                 consent page (HTML) with a "Grant access" form
POST /oauth/authorize                 the form post → 302 to redirect_uri?code=…&state=…
POST /oauth/v1/token                  authorization_code (+ PKCE) and refresh_token grants
GET  /oauth/v1/access-tokens/{token}  token info (hub_id, user, scopes, expires_in …)
GET  /oauth/v1/refresh-tokens/{token} refresh-token info
DELETE /oauth/v1/refresh-tokens/{token}  revoke (204); issued access tokens stay valid; an unknown or
                                      already deleted token: 404 (UNCONFIRMED)

Token-endpoint errors use HubSpot's v1 shape {"status": "BAD_AUTH_CODE", "message": …}.
BAD_AUTH_CODE and BAD_REFRESH_TOKEN are documented; BAD_CLIENT_ID,
BAD_CLIENT_SECRET, BAD_REDIRECT_URI and BAD_GRANT_TYPE are UNCONFIRMED names in
the same family. A failed PKCE check answers BAD_AUTH_CODE (UNCONFIRMED).
"""
import base64
import hashlib
import hmac
from html import escape
from urllib.parse import urlencode

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from .responses import HubSpotError, json_response


def _token_error(status: str, message: str) -> HubSpotError:
    return HubSpotError(400, message, status=status)


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
        app = store.apps.get(form.get("client_id") or "")
        if app is None:
            raise _token_error("BAD_CLIENT_ID", "missing or invalid client id")
        if not hmac.compare_digest(app.client_secret, form.get("client_secret") or ""):
            raise _token_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        if grant_type == "authorization_code":
            code = store.codes.get(form.get("code") or "")
            if code is None or code.client_id != app.client_id or code.used or code.expires_at < store.now():
                raise _token_error("BAD_AUTH_CODE", "missing or unknown auth code")
            if form.get("redirect_uri") != code.redirect_uri:
                raise _token_error("BAD_REDIRECT_URI", "redirect_uri does not match initial auth code URL")
            if code.code_challenge and not _pkce_ok(code, form.get("code_verifier") or ""):
                code.used = True
                raise _token_error("BAD_AUTH_CODE", "code_verifier does not match the code_challenge")
            code.used = True
            access, refresh = store.issue_tokens(client_id=app.client_id, scopes=code.scopes,
                                                 access_ttl=sb.access_token_ttl)
        elif grant_type == "refresh_token":
            refresh = store.tokens.get(form.get("refresh_token") or "")
            if refresh is None or refresh.kind != "refresh" or refresh.revoked or refresh.client_id != app.client_id:
                raise _token_error("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
            access, refresh = store.issue_tokens(client_id=app.client_id, scopes=refresh.scopes,
                                                 access_ttl=sb.access_token_ttl, refresh_token=refresh.token)
        else:
            raise _token_error("BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token")
    return json_response({"token_type": "bearer", "refresh_token": refresh.token,
                          "access_token": access.token, "expires_in": sb.access_token_ttl},
                         headers={"Cache-Control": "no-store"})


def _pkce_ok(code, verifier: str) -> bool:
    if not 43 <= len(verifier) <= 128:
        return False
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.code_challenge)


def access_token_info(sb, request, token: str) -> Response:
    store = sb.store
    tok = store.tokens.get(token)
    if tok is None or tok.kind != "access" or tok.expires_at <= store.now():
        raise HubSpotError(404, "access token not found or expired", category="OBJECT_NOT_FOUND")
    app = store.apps.get(tok.client_id)
    return json_response({
        "token": tok.token, "user": store.user, "hub_domain": store.hub_domain, "scopes": tok.scopes,
        "hub_id": store.portal_id, "app_id": app.app_id if app else None,
        "expires_in": int(tok.expires_at - store.now()), "user_id": store.user_id, "token_type": "access",
    })


def refresh_token_info(sb, request, token: str) -> Response:
    store = sb.store
    tok = store.tokens.get(token)
    if tok is None or tok.kind != "refresh" or tok.revoked:
        raise HubSpotError(404, "refresh token not found", category="OBJECT_NOT_FOUND")
    return json_response({
        "token": tok.token, "user": store.user, "hub_domain": store.hub_domain, "scopes": tok.scopes,
        "hub_id": store.portal_id, "client_id": tok.client_id, "user_id": store.user_id, "token_type": "refresh",
    })


def revoke_refresh_token(sb, request, token: str) -> Response:
    with sb.store.lock:
        tok = sb.store.tokens.get(token)
        if tok is None or tok.kind != "refresh" or tok.revoked:
            raise HubSpotError(404, "refresh token not found", category="OBJECT_NOT_FOUND")
        tok.revoked = True
    return Response(status=204)


def _with_query(url: str, params: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)

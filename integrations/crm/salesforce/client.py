"""Salesforce HTTP clients (httpx): `SalesforceOAuth` talks to the login host
(token exchange for code+PKCE, refresh and JWT bearer; revoke) and
`SalesforceClient` to the org's instance (SOQL query paging through
nextRecordsUrl, sObject GET/PATCH, limits), mapping Salesforce's errors to
the exceptions below. Numbers are read as Decimal, never float.

Errors:
  SessionExpired   401 INVALID_SESSION_ID — refresh (or new JWT) and retry once.
  LimitExceeded    403 REQUEST_LIMIT_EXCEEDED — the org's rolling 24 h API
                   allocation is spent; no Retry-After is sent, so wait long.
  ReauthRequired   invalid_grant from the token endpoint — the refresh token is
                   revoked/expired or the JWT user is not approved: reconnect.
  OAuthConfigError other OAuth errors (invalid_client_id, invalid_client,
                   redirect_uri_mismatch …): our connected-app settings are wrong.
  SalesforceApiError other REST errors (MALFORMED_QUERY, INVALID_FIELD, NOT_FOUND …).
  SalesforceUnavailable 5xx, timeouts, connection failures — retryable.

This module is framework-free; `session.py` binds it to a Connection
(tokens, refresh, limits, VendorExchange recording through an httpx hook).
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

import httpx

from . import facts
from .jwt_bearer import build_assertion


class SalesforceError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None, error_code: str = "", body=None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_code = error_code
        self.body = body


class SessionExpired(SalesforceError):
    pass


class LimitExceeded(SalesforceError):
    pass


class ReauthRequired(SalesforceError):
    pass


class OAuthConfigError(SalesforceError):
    pass


class SalesforceApiError(SalesforceError):
    pass


class SalesforceUnavailable(SalesforceError):
    pass


@dataclass
class TokenSet:
    """A token endpoint answer. Salesforce sends no expires_in: an access
    token is used until a call answers INVALID_SESSION_ID."""

    access_token: str
    instance_url: str
    identity_url: str
    issued_at: datetime.datetime | None
    scope: list[str]
    signature: str = ""
    refresh_token: str = ""
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def org_id(self) -> str:
        """The org id from the identity URL (…/id/<org id>/<user id>)."""
        parts = self.identity_url.rstrip("/").split("/")
        return parts[-2] if len(parts) >= 2 else ""

    @property
    def user_id(self) -> str:
        return self.identity_url.rstrip("/").split("/")[-1]


@dataclass
class ApiUsage:
    used: int
    max: int

    @property
    def remaining(self) -> int:
        return max(self.max - self.used, 0)


_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """`Sforce-Limit-Info: api-usage=18/5000[; per-app-api-usage=…]` → ApiUsage."""
    match = _USAGE.search(header or "")
    return ApiUsage(int(match.group(1)), int(match.group(2))) if match else None


def make_pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _loads(response: httpx.Response):
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return response.text[:500]


def _transport_error(exc: httpx.HTTPError) -> SalesforceUnavailable:
    return SalesforceUnavailable(f"Salesforce unreachable: {type(exc).__name__}: {exc}")


class SalesforceOAuth:
    """The login host (login.salesforce.com, test.salesforce.com or My Domain)."""

    def __init__(self, login_url: str, client_id: str, client_secret: str = "", *, timeout: float = 15.0,
                 http: httpx.Client | None = None):
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http or httpx.Client(timeout=timeout)

    def authorize_url(self, *, redirect_uri: str, state: str, scope: str = " ".join(facts.DEFAULT_SCOPES),
                      code_challenge: str | None = None) -> str:
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                  "state": state, "scope": scope}
        if code_challenge:
            params.update(code_challenge=code_challenge, code_challenge_method="S256")
        return f"{self.login_url}{facts.AUTHORIZE_PATH}?{urlencode(params)}"

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None = None) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token(form)

    def refresh(self, *, refresh_token: str) -> TokenSet:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        tokens = self._token(form)
        # Salesforce does not rotate by default: keep the one we hold.
        tokens.refresh_token = tokens.refresh_token or refresh_token
        return tokens

    def jwt_bearer(self, *, username: str, private_key_pem: bytes | str, audience: str | None = None) -> TokenSet:
        """Server-to-server token for a pre-authorized user; no refresh token
        comes back, so call again when the session expires. The audience is
        the login host; when `login_url` is a My Domain host pass
        audience=facts.LOGIN_URL_PRODUCTION (or the sandbox-org host)."""
        assertion = build_assertion(consumer_key=self.client_id, username=username,
                                    audience=audience or self.login_url, private_key_pem=private_key_pem)
        return self._token({"grant_type": facts.JWT_BEARER_GRANT_TYPE, "assertion": assertion})

    def revoke(self, *, token: str) -> None:
        try:
            response = self.http.post(self.login_url + facts.REVOKE_PATH, data={"token": token})
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from exc
        if response.status_code >= 500:
            raise SalesforceUnavailable("revoke failed", status_code=response.status_code, body=_loads(response))
        if response.status_code != 200:
            body = _loads(response)
            error = body.get("error", "") if isinstance(body, dict) else ""
            raise OAuthConfigError(f"revoke refused: {error or response.status_code}", status_code=response.status_code,
                                   error_code=error, body=body)

    def verify_signature(self, tokens: TokenSet) -> bool:
        """Salesforce signs id + issued_at with the consumer secret (HMAC-SHA256)."""
        if not self.client_secret or not tokens.signature:
            return False
        issued = tokens.raw.get("issued_at", "")
        expected = base64.b64encode(hmac.new(self.client_secret.encode(), (tokens.identity_url + issued).encode(),
                                             hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, tokens.signature)

    def _token(self, form: dict) -> TokenSet:
        try:
            response = self.http.post(self.login_url + facts.TOKEN_PATH, data=form,
                                      headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from exc
        body = _loads(response)
        if response.status_code >= 500:
            raise SalesforceUnavailable("token endpoint failed", status_code=response.status_code, body=body)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error", "") if isinstance(body, dict) else ""
            description = body.get("error_description", "") if isinstance(body, dict) else ""
            kind = ReauthRequired if error == facts.INVALID_GRANT else OAuthConfigError
            raise kind(f"{error}: {description}" if error else f"token endpoint answered {response.status_code}",
                       status_code=response.status_code, error_code=error, body=body)
        issued = body.get("issued_at")
        return TokenSet(
            access_token=body["access_token"], instance_url=body.get("instance_url", "").rstrip("/"),
            identity_url=body.get("id", ""),
            issued_at=datetime.datetime.fromtimestamp(int(issued) / 1000, datetime.timezone.utc) if issued else None,
            scope=(body.get("scope") or "").split(), signature=body.get("signature", ""),
            refresh_token=body.get("refresh_token", ""), raw=body,
        )


class SalesforceClient:
    """One org's REST API at its instance_url, with one access token."""

    def __init__(self, instance_url: str, access_token: str, *, api_version: str = facts.API_VERSION,
                 timeout: float = 30.0, http: httpx.Client | None = None):
        self.instance_url = instance_url.rstrip("/")
        self.access_token = access_token
        self.api_version = api_version
        self.http = http or httpx.Client(timeout=timeout)
        self.api_usage: ApiUsage | None = None

    @property
    def data_path(self) -> str:
        return f"/services/data/v{self.api_version}"

    def close(self):
        self.http.close()

    # --------------------------------------------------------------- calls
    def query_pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict]:
        """Each page of a SOQL query ({totalSize, done, records, nextRecordsUrl}),
        following nextRecordsUrl until done."""
        endpoint = "queryAll" if include_deleted else "query"
        page = self._request("GET", f"{self.data_path}/{endpoint}", params={"q": soql})
        yield page
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self._request("GET", page["nextRecordsUrl"])
            yield page

    def query_records(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict]:
        for page in self.query_pages(soql, include_deleted=include_deleted):
            yield from page.get("records", [])

    def get(self, sobject: str, record_id: str, *, fields: list[str] | None = None) -> dict:
        params = {"fields": ",".join(fields)} if fields else None
        return self._request("GET", f"{self.data_path}/sobjects/{sobject}/{record_id}", params=params)

    def update(self, sobject: str, record_id: str, fields: dict) -> None:
        """PATCH the record; Salesforce answers 204 No Content."""
        self._request("PATCH", f"{self.data_path}/sobjects/{sobject}/{record_id}", json_body=fields)

    def update_opportunity(self, opportunity_id: str, fields: dict) -> None:
        self.update("Opportunity", opportunity_id, fields)

    def limits(self) -> dict:
        return self._request("GET", f"{self.data_path}/limits")

    # ------------------------------------------------------------ plumbing
    def _request(self, method: str, path: str, *, params=None, json_body=None):
        headers = {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json"}
        content = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(json_body, default=str).encode()
        try:
            response = self.http.request(method, self.instance_url + path, params=params, headers=headers, content=content)
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from exc
        usage = parse_limit_info(response.headers.get(facts.LIMIT_INFO_HEADER))
        if usage is not None:
            self.api_usage = usage
        body = _loads(response)
        if response.status_code < 300:
            return body
        errors = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        code, message = first.get("errorCode", ""), first.get("message", "")
        text = f"{method} {path} → {response.status_code} {code}: {message}".strip()
        if code == facts.INVALID_SESSION_ID or response.status_code == 401:
            raise SessionExpired(text, status_code=response.status_code, error_code=code or facts.INVALID_SESSION_ID, body=body)
        if code == facts.REQUEST_LIMIT_EXCEEDED:
            raise LimitExceeded(text, status_code=response.status_code, error_code=code, body=body)
        if response.status_code >= 500:
            raise SalesforceUnavailable(text, status_code=response.status_code, error_code=code, body=body)
        raise SalesforceApiError(text, status_code=response.status_code, error_code=code, body=body)

"""HTTP clients for Square (httpx): OAuth (token exchange, refresh, revoke,
status) and the read APIs TaxPoynt uses (Locations, Orders, Payments,
Refunds). Errors are mapped once, here, onto a small hierarchy the sync code
can act on: `RateLimited` (429, with a retry-after hint), `SquareRetryable`
(5xx, timeouts, connection failures), `SquareAuthError` (401/403: the
connection needs re-authorisation), `SquareNotFound`, `SquareError`.

Both clients take an optional shared `httpx.Client` so a worker reuses one
connection pool. The error classes are also the connector framework's
(`integrations.connections.http`: VendorError, VendorAuthError,
VendorNotFound, VendorUnavailable, RateLimited), so the generic sync task and
token service act on them without knowing Square. A shared `http` client
must be one of `connections.http.recording_client` (every exchange a
VendorExchange row, the audit trail); `connection` names the rows' connection.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from integrations.connections import http
from integrations.connections.http import recording_client
from integrations.pos.square import constants

VENDOR = "square"  # SquareProvider.key (the provider module imports this one)


class SquareError(http.VendorError):
    def __init__(self, message: str, *, status: int | None = None, errors: list | None = None):
        http.VendorError.__init__(self, message, status_code=status, body={"errors": errors or []})
        self.status = status
        self.errors = errors or []

    @property
    def code(self) -> str | None:
        return self.errors[0].get("code") if self.errors else None

    @property
    def category(self) -> str | None:
        return self.errors[0].get("category") if self.errors else None


class SquareAuthError(SquareError, http.VendorAuthError):
    """401/403: token missing, expired, revoked or lacking a scope."""


class SquareNotFound(SquareError, http.VendorNotFound):
    pass


class SquareRetryable(SquareError, http.VendorUnavailable):
    """5xx, timeout or connection failure: try again later."""


class RateLimited(SquareRetryable, http.RateLimited):
    """429 RATE_LIMITED. `retry_after` is seconds to wait: the Retry-After
    header when Square sends one (it usually does not), else a default."""

    def __init__(self, message: str, *, retry_after: float, status: int = 429, errors: list | None = None):
        super().__init__(message, status=status, errors=errors)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    return constants.DEFAULT_RETRY_AFTER_SECONDS


def _errors(response: httpx.Response) -> list[dict]:
    """The error body's `errors`. A body without them in the legacy
    {"type", "message"} shape (OAuth answers in 2019 forum threads) becomes one error
    {code: type, detail: message}, as Square's own SDK reads it
    (square-python-sdk src/square/core/api_error.py, `ApiError._parse_error`)."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    if "errors" in body:
        errors = body["errors"] or []
        return errors if isinstance(errors, list) else [errors]
    if body.get("type") or body.get("message"):
        return [{"code": body.get("type"), "detail": body.get("message")}]
    return []


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    errors = _errors(response)
    detail = "; ".join(f"{e.get('code')}: {e.get('detail')}" for e in errors) or response.text[:200]
    message = f"Square {response.request.method} {response.request.url.path} → {response.status_code} {detail}"
    status = response.status_code
    if status == 429:
        raise RateLimited(message, retry_after=_retry_after(response), errors=errors)
    if status in (401, 403):
        raise SquareAuthError(message, status=status, errors=errors)
    if status == 404:
        raise SquareNotFound(message, status=status, errors=errors)
    if status >= 500:
        raise SquareRetryable(message, status=status, errors=errors)
    raise SquareError(message, status=status, errors=errors)


class _Base:
    def __init__(self, *, base_url: str, timeout: float = 10.0, http: httpx.Client | None = None,
                 version: str = constants.SQUARE_VERSION, connection=None):
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.connection = connection  # named on each request: a shared pool serves many connections
        self._http = http or recording_client(vendor=VENDOR, timeout=timeout)
        self._owns_http = http is None

    def close(self):
        if self._owns_http:
            self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _request(self, method: str, path: str, *, authorization: str | None, json: dict | None = None,
                 params: dict | None = None) -> dict:
        headers = {"Square-Version": self.version, "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        try:
            response = self._http.request(method, self.base_url + path, json=json, params=params, headers=headers,
                                          extensions={http.CONNECTION: self.connection} if self.connection else None)
        except httpx.TimeoutException as exc:
            raise SquareRetryable(f"Square {method} {path} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise SquareRetryable(f"Square {method} {path} failed: {exc}") from exc
        _raise_for(response)
        return response.json() if response.content else {}


# --- OAuth ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenSet:
    """An ObtainToken answer. `refresh_token` is "" when Square sent none: a
    `short_lived` token comes alone (ObtainTokenResponse.short_lived), and
    must be authorised again once it expires."""

    access_token: str
    expires_at: dt.datetime
    merchant_id: str
    refresh_token: str = ""
    token_type: str = "bearer"
    short_lived: bool = False
    refresh_token_expires_at: dt.datetime | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_response(cls, data: dict) -> TokenSet:
        rt_exp = data.get("refresh_token_expires_at")
        return cls(access_token=data["access_token"], refresh_token=data.get("refresh_token") or "",
                   expires_at=parse_time(data["expires_at"]), merchant_id=data["merchant_id"],
                   token_type=data.get("token_type", "bearer"), short_lived=bool(data.get("short_lived")),
                   refresh_token_expires_at=parse_time(rt_exp) if rt_exp else None, raw=data)


def parse_time(value: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class SquareOAuthClient(_Base):
    """OAuth for one Square application (client id + secret)."""

    def __init__(self, *, base_url: str, client_id: str, client_secret: str = "", **kw):
        super().__init__(base_url=base_url, **kw)
        self.client_id = client_id
        self.client_secret = client_secret

    def authorize_url(self, *, state: str, scopes=constants.DEFAULT_SCOPES, code_challenge: str | None = None,
                      session: bool = False, redirect_uri: str | None = None) -> str:
        params = {"client_id": self.client_id, "scope": " ".join(scopes), "session": str(session).lower(),
                  "state": state}
        if redirect_uri:  # optional; must equal the one registered for the application
            params["redirect_uri"] = redirect_uri
        if code_challenge:
            params.update(code_challenge=code_challenge, code_challenge_method="S256")
        return f"{self.base_url}/oauth2/authorize?{urlencode(params)}"

    def exchange_code(self, *, code: str, code_verifier: str | None = None, redirect_uri: str | None = None,
                      short_lived: bool = False) -> TokenSet:
        """Code flow sends the client secret; PKCE sends the code verifier instead.
        `short_lived`: a 24-hour access token and no refresh token."""
        body = {"client_id": self.client_id, "grant_type": "authorization_code", "code": code}
        if short_lived:
            body["short_lived"] = True
        if code_verifier:
            body["code_verifier"] = code_verifier
        else:
            body["client_secret"] = self.client_secret
        if redirect_uri:
            body["redirect_uri"] = redirect_uri
        return TokenSet.from_response(self._request("POST", "/oauth2/token", authorization=None, json=body))

    def refresh(self, *, refresh_token: str, pkce: bool = False) -> TokenSet:
        """Code-flow refresh returns the same refresh token; a PKCE one rotates:
        store the returned `refresh_token`, the old one is dead."""
        body = {"client_id": self.client_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
        if not pkce:
            body["client_secret"] = self.client_secret
        return TokenSet.from_response(self._request("POST", "/oauth2/token", authorization=None, json=body))

    def revoke(self, *, access_token: str | None = None, merchant_id: str | None = None,
               revoke_only_access_token: bool = False) -> bool:
        """Revokes every token of the merchant for this app (Authorization: Client <secret>)."""
        if not (access_token or merchant_id):
            raise ValueError("access_token or merchant_id is required")
        body: dict = {"client_id": self.client_id}
        if access_token:
            body["access_token"] = access_token
        else:
            body["merchant_id"] = merchant_id
        if revoke_only_access_token:
            body["revoke_only_access_token"] = True
        data = self._request("POST", "/oauth2/revoke", authorization=f"Client {self.client_secret}", json=body)
        return bool(data.get("success"))

    def token_status(self, *, access_token: str) -> dict:
        return self._request("POST", "/oauth2/token/status", authorization=f"Bearer {access_token}", json={})


# --- API -----------------------------------------------------------------------------
@dataclass(frozen=True)
class OrdersPage:
    orders: list[dict]
    cursor: str | None  # the cursor for the NEXT page (checkpoint it), None at the end


class SquareClient(_Base):
    """Read API for one merchant's access token."""

    def __init__(self, *, base_url: str, access_token: str, **kw):
        super().__init__(base_url=base_url, **kw)
        self.access_token = access_token

    def _call(self, method: str, path: str, **kw) -> dict:
        return self._request(method, path, authorization=f"Bearer {self.access_token}", **kw)

    def list_locations(self) -> list[dict]:
        return self._call("GET", "/v2/locations").get("locations", [])

    def get_location(self, location_id: str) -> dict:
        return self._call("GET", f"/v2/locations/{location_id}")["location"]

    def get_order(self, order_id: str) -> dict:
        return self._call("GET", f"/v2/orders/{order_id}")["order"]

    def batch_retrieve_orders(self, order_ids: list[str], *, location_id: str | None = None) -> list[dict]:
        out: list[dict] = []
        for i in range(0, len(order_ids), 100):  # BatchRetrieveOrders takes at most 100 ids
            body: dict = {"order_ids": order_ids[i: i + 100]}
            if location_id:
                body["location_id"] = location_id
            out.extend(self._call("POST", "/v2/orders/batch-retrieve", json=body).get("orders", []))
        return out

    def search_orders(self, *, location_ids: list[str], query: dict | None = None, limit: int | None = None,
                      cursor: str | None = None, return_entries: bool = False) -> dict:
        if not 1 <= len(location_ids) <= constants.SEARCH_MAX_LOCATIONS:
            raise ValueError(f"search_orders takes 1..{constants.SEARCH_MAX_LOCATIONS} location ids")
        if limit is not None and not 1 <= limit <= constants.SEARCH_MAX_LIMIT:
            raise ValueError(f"limit must be 1..{constants.SEARCH_MAX_LIMIT}")
        body: dict = {"location_ids": list(location_ids)}
        if query:
            body["query"] = query
        if limit is not None:
            body["limit"] = limit
        if cursor:
            body["cursor"] = cursor
        if return_entries:
            body["return_entries"] = True
        return self._call("POST", "/v2/orders/search", json=body)

    def iter_order_pages(self, *, location_ids: list[str], query: dict | None = None, limit: int | None = None,
                         cursor: str | None = None) -> Iterator[OrdersPage]:
        """Every page of a search, resending the same query with each cursor (as
        Square requires). Start from a checkpointed `cursor` to resume."""
        while True:
            data = self.search_orders(location_ids=location_ids, query=query, limit=limit, cursor=cursor)
            cursor = data.get("cursor") or None
            yield OrdersPage(orders=data.get("orders", []), cursor=cursor)
            if not cursor:
                return

    def list_payments(self, *, begin_time: str | None = None, end_time: str | None = None,
                      location_id: str | None = None, cursor: str | None = None, limit: int | None = None,
                      sort_order: str | None = None) -> dict:
        """ListPayments, one page. Without `location_id` Square lists the
        seller's main location only, not every location."""
        params = {k: v for k, v in {"begin_time": begin_time, "end_time": end_time, "location_id": location_id,
                                    "cursor": cursor, "limit": limit, "sort_order": sort_order}.items()
                  if v is not None}
        return self._call("GET", "/v2/payments", params=params)

    def get_payment(self, payment_id: str) -> dict:
        return self._call("GET", f"/v2/payments/{payment_id}")["payment"]

    def iter_refunds_updated(self, *, begin_time: str, end_time: str, location_id: str | None = None,
                             status: str | None = None) -> Iterator[dict]:
        """ListPaymentRefunds: every refund last updated in [begin_time,
        end_time) (created within Square's default year), oldest update
        first, page after page. By update, not creation: a refund reaches
        COMPLETED when it is last updated, which can be days after it was
        created."""
        params = {k: v for k, v in {"updated_at_begin_time": begin_time, "updated_at_end_time": end_time,
                                    "location_id": location_id, "status": status, "sort_field": "UPDATED_AT",
                                    "sort_order": "ASC", "limit": constants.PAYMENTS_MAX_LIMIT}.items()
                  if v is not None}
        while True:
            data = self._call("GET", "/v2/refunds", params=params)
            yield from data.get("refunds", [])
            if not data.get("cursor"):
                return
            params["cursor"] = data["cursor"]

    def get_refund(self, refund_id: str) -> dict:
        return self._call("GET", f"/v2/refunds/{refund_id}")["refund"]

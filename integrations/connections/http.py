"""The shared vendor HTTP machinery (Sentry's ApiClient): error mapping,
rate-limit handling, and the one audit recorder of vendor traffic.

- `RecordingTransport` / `recording_client()`: an httpx transport that stores
  every request/response with a vendor — transport failures included — as a
  VendorExchange row, secrets masked (SPEC §3's audit trail). Every vendor
  client sends through one: `VendorClient` (HubSpot), Salesforce's `OrgApi`,
  Square's clients. A process-wide pool shared by several connections names
  the connection per request (`extensions={CONNECTION: connection}`).
  `exchanges_written_together()`: a run that calls a vendor for many
  connections writes their rows in one INSERT at its end.
- `VendorClient`: the base for REST clients; subclasses set `vendor` and
  override `rate_limit_delay(response)` when the vendor publishes its own headers.
"""
from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import threading
import time
from typing import Any

import httpx
from django.utils import timezone

from taxpoynt.redaction import SecretKeys, redacted_json
from taxpoynt.transport import KeepAliveTransport

logger = logging.getLogger(__name__)

# Keys whose values never reach the exchange log (request or response bodies),
# and the words one of which a body holding such a key must contain.
SECRET_KEYS = SecretKeys(
    pattern=re.compile(r"(token|secret|password|code_verifier|authorization|api_key|^code$)", re.I),
    words=("token", "secret", "password", "code_verifier", "authorization", "api_key", '"code"'),
    mask="***",
)
MAX_LOGGED_BODY = 20_000


class VendorError(Exception):
    """A vendor call failed; `status_code` and `body` say how."""

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None):
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class VendorAuthError(VendorError):
    """Credentials refused (401, invalid_grant): the connection needs re-auth."""


class VendorNotFound(VendorError):
    pass


class RateLimited(VendorError):
    """429 (or the vendor's equivalent) and our own retries are spent: retry the
    whole job after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float, status_code: int | None = 429, body: Any = None):
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after = retry_after


class VendorUnavailable(VendorError):
    """5xx, timeout, connection refused: retryable."""


def mask_url(url: str) -> str:
    """Mask tokens that appear as path segments or query values."""
    url = re.sub(r"(?i)((?:token|secret|code|refresh_token|access_token)=)[^&]+", r"\1***", url)
    return re.sub(r"(/(?:refresh-tokens|access-tokens)/)[^/?]+", r"\1***", url)


def _body_text(content: bytes | None, content_type: str = "") -> str:
    if not content:
        return ""
    try:
        if "json" in content_type or content[:1] in (b"{", b"["):
            # A larger body (a page of orders) is masked only as far as it is kept.
            redacted = redacted_json(content.decode("utf-8"), SECRET_KEYS, limit=MAX_LOGGED_BODY)
            if redacted is not None:
                return redacted
        if "x-www-form-urlencoded" in content_type:
            from urllib.parse import parse_qsl, urlencode

            return urlencode([(k, SECRET_KEYS.mask if SECRET_KEYS.is_secret(k) else v)
                              for k, v in parse_qsl(content.decode())])[:MAX_LOGGED_BODY]
    except (ValueError, UnicodeDecodeError):
        pass
    return content[:MAX_LOGGED_BODY].decode("utf-8", "replace")


def retry_after_seconds(response: httpx.Response, default: float = 1.0) -> float:
    """Seconds to wait from a standard Retry-After header (seconds or HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return default
        return max(0.0, (parsed - timezone.now()).total_seconds())


class VendorClient:
    """Base client: `request()` sends, records, maps errors and absorbs short
    rate-limit waits (up to `max_inline_wait` seconds in total); longer ones
    raise RateLimited so the Celery task retries with a countdown."""

    vendor: str = ""
    timeout: float = 15.0
    max_rate_limit_retries: int = 3
    max_inline_wait: float = 5.0

    def __init__(self, *, base_url: str, access_token: str = "", connection=None, record: bool = True):
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.connection = connection
        self.http = (recording_client(vendor=self.vendor, connection=connection, timeout=self.timeout,
                                      base_url=self.base_url) if record
                     else httpx.Client(base_url=self.base_url, timeout=self.timeout))
        self.sleep = time.sleep  # tests may replace it to observe waits

    def close(self):
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- hooks ----------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}

    def rate_limit_delay(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait after a 429; vendors override to read their headers."""
        return retry_after_seconds(response, default=min(2 ** attempt, 30))

    def is_rate_limited(self, response: httpx.Response) -> bool:
        return response.status_code == 429

    # --- the one place a request is sent --------------------------------------
    def request(self, method: str, path: str, *, json_body: Any = None, data: Any = None,
                params: dict | None = None, headers: dict | None = None, auth: bool = True) -> httpx.Response:
        waited = 0.0
        attempt = 0
        while True:
            response = self._send(method, path, json_body=json_body, data=data, params=params,
                                  headers={**(self.auth_headers() if auth else {}), **(headers or {})})
            if not self.is_rate_limited(response):
                break
            attempt += 1
            delay = self.rate_limit_delay(response, attempt)
            if attempt > self.max_rate_limit_retries or waited + delay > self.max_inline_wait:
                raise RateLimited(f"{self.vendor} rate limit", retry_after=max(delay, 1.0),
                                  body=self._safe_json(response))
            logger.info("vendor rate limited; waiting", extra={"vendor": self.vendor, "delay": delay})
            self.sleep(delay)
            waited += delay
        self.raise_for_status(response)
        return response

    def _send(self, method, path, *, json_body, data, params, headers) -> httpx.Response:
        try:
            return self.http.request(method, path, json=json_body, data=data, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise VendorUnavailable(f"{self.vendor} timed out") from exc
        except httpx.TransportError as exc:
            raise VendorUnavailable(f"{self.vendor} unreachable: {exc}") from exc

    @staticmethod
    def _safe_json(response: httpx.Response):
        try:
            return response.json()
        except ValueError:
            return response.text[:500]

    def raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        body = self._safe_json(response)
        message = f"{self.vendor} {response.request.method} {mask_url(str(response.request.url))} → {status}"
        if status == 401:
            raise VendorAuthError(message, status_code=status, body=body)
        if status == 404:
            raise VendorNotFound(message, status_code=status, body=body)
        if status >= 500:
            raise VendorUnavailable(message, status_code=status, body=body)
        raise VendorError(message, status_code=status, body=body)


# --- the audit trail of vendor traffic ------------------------------------------------
CONNECTION = "taxpoynt.connection"  # request extension: the Connection a shared pool's request is for


def _request_text(request: httpx.Request) -> str:
    content = request.content if isinstance(request.stream, httpx.ByteStream) else b""
    return _body_text(content, request.headers.get("content-type", ""))


class RecordingTransport(httpx.BaseTransport):
    """Sends through `inner` and stores each exchange as a VendorExchange row
    (URL, bodies masked; status, latency, or the transport error). The
    Authorization header is never stored. Recording never breaks the call."""

    def __init__(self, *, vendor: str, connection=None, inner: httpx.BaseTransport | None = None):
        self.vendor = vendor
        self.connection = connection
        self.inner = inner or KeepAliveTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        try:
            response = self.inner.handle_request(request)
            response.read()  # the body is recorded, so it is read here
        except httpx.TransportError as exc:
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport"
            self._record(request, None, started, f"{kind}: {exc}")
            raise
        self._record(request, response, started, "")
        return response

    def close(self) -> None:
        self.inner.close()

    def _record(self, request: httpx.Request, response: httpx.Response | None, started: float, error: str):
        from .models import VendorExchange

        connection = request.extensions.get(CONNECTION, self.connection)
        try:
            exchange = VendorExchange(
                vendor=self.vendor, connection=connection,
                organization_id=getattr(connection, "organization_id", None), method=request.method,
                url=mask_url(str(request.url))[:1000], request_body=_request_text(request),
                status_code=response.status_code if response is not None else None,
                response_body=_body_text(response.content, response.headers.get("content-type", ""))
                if response is not None else "",
                latency_ms=int((time.monotonic() - started) * 1000), error=error[:300])
            kept = getattr(_kept_exchanges, "rows", None)
            if kept is not None:
                kept.append(exchange)
            else:
                exchange.save(force_insert=True)
        except Exception:  # the audit row must never break the call itself
            logger.exception("could not record vendor exchange")


_kept_exchanges = threading.local()


@contextlib.contextmanager
def exchanges_written_together():
    """Within it, the exchanges this thread records are kept and written in
    one INSERT when it ends, however it ends (a run reading ten sellers'
    orders: one statement, not ten commits). Inside an outer one, the outer
    one writes them."""
    from .models import VendorExchange

    if getattr(_kept_exchanges, "rows", None) is not None:
        yield
        return
    _kept_exchanges.rows = rows = []
    try:
        yield
    finally:
        _kept_exchanges.rows = None
        if rows:
            try:
                if len(rows) == 1:  # one statement, where bulk_create would wrap it in BEGIN … COMMIT
                    rows[0].save(force_insert=True)
                else:
                    VendorExchange.objects.bulk_create(rows)
            except Exception:  # the audit rows must never break the run itself
                logger.exception("could not record %d vendor exchanges", len(rows))


def recording_client(*, vendor: str, connection=None, timeout: float = 15.0, **client_options) -> httpx.Client:
    """An httpx client whose every exchange is recorded (see RecordingTransport)."""
    limits = client_options.pop("limits", httpx.Limits())
    return httpx.Client(timeout=timeout, transport=RecordingTransport(
        vendor=vendor, connection=connection, inner=KeepAliveTransport(limits=limits)), **client_options)

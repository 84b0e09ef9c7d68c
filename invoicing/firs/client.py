"""The HTTP client for the FIRS MBS API (FIRS.md §3).

One pooled httpx transport per (base URL, credentials). Every call returns an
`Exchange` (method, URL, request body with secrets masked, status, response
body, latency, parsed `data`), and every failure raises a `FirsError` carrying
the Exchange, so the submission state machine can record each attempt. The
api key and secret travel only as headers and never appear in an Exchange.

How a failure is classified decides what the caller may do next:

- `FirsRejected` (4xx validation; `.details`, `.public_message`, `.errors`):
  the document is wrong; resending the same bytes cannot help.
- `FirsNotFound` (a FirsRejected, 404): e.g. confirm of an IRN FIRS does not hold.
- `FirsDuplicate`: `sign` answered 400 with handler "invoice_actions" and
  FIRS's duplicate details ("unable to complete this operation at this time,
  kindly try again later"), i.e. the IRN is already signed; check `confirm`
  rather than treat it as a rejection. (Validation failures on invoice routes
  carry the same handler, so the handler alone is not enough.)
- `FirsAuthError`: 401/403, or FIRS's 400 "unable to validate api key".
- `FirsRetryable` (`.retry_after` seconds or None): 5xx, 429, or the
  connection failed before the request was sent; `FirsCircuitOpen` is one,
  raised without sending while the breaker is open.
- `FirsOutcomeUnknown`: a POST/PATCH timed out or the connection dropped after
  the request went out; FIRS may have acted on it (the duplicate-IRN trap), so
  the caller must look it up before resending. A GET has no side effects, so
  the same transport failures on a GET are merely `FirsRetryable`.
"""
import datetime
import email.utils
import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from taxpoynt.errors import ApplicationError
from taxpoynt.redaction import SecretKeys, redacted_json
from taxpoynt.transport import Answer, KeepAliveTransport

from . import codes
from .breaker import CircuitBreaker

logger = logging.getLogger(__name__)

from taxpoynt.ops.metrics import firs_request_latency_seconds as FIRS_REQUEST_LATENCY

# JSON keys (any case) whose values are masked in recorded request bodies.
SECRET_FIELDS = ("password", "api_key", "api_secret", "x-api-key", "x-api-secret", "secret", "token")
MASK = "********"
SECRET_KEYS = SecretKeys(pattern=re.compile("^(%s)$" % "|".join(map(re.escape, SECRET_FIELDS)), re.I),
                         words=SECRET_FIELDS, mask=MASK)

# Outcome labels (metric label and Exchange.outcome).
OK, REJECTED, NOT_FOUND, DUPLICATE, AUTH, RETRY, UNKNOWN, CIRCUIT_OPEN = (
    "ok", "rejected", "not_found", "duplicate", "auth", "retry", "unknown", "circuit_open",
)


@dataclass
class Exchange:
    """One request/response with FIRS, as the submission records it.

    `request_body` is the text sent with secret fields masked (the api key and
    secret are headers and never recorded); `data` is the envelope's `data`
    parsed with Decimal amounts; `outcome` is one of ok, rejected, not_found,
    duplicate, auth, retry, unknown, circuit_open.
    """

    method: str
    url: str
    request_body: str
    status_code: int | None
    response_body: str
    latency_ms: int
    data: Any = None
    endpoint: str = ""
    outcome: str = OK
    error: str = ""


class FirsError(Exception):
    """Base of every FIRS failure; `.exchange` is the attempt that failed."""

    outcome = "error"

    def __init__(self, message, *, exchange=None, handler="", details="", public_message="", error_id="", errors=None):
        super().__init__(message)
        self.message = message
        self.exchange = exchange
        self.handler = handler
        self.details = details
        self.public_message = public_message
        self.error_id = error_id
        self.errors = errors or []


class FirsRejected(FirsError):
    outcome = REJECTED


class FirsNotFound(FirsRejected):
    outcome = NOT_FOUND


class FirsDuplicate(FirsError):
    outcome = DUPLICATE


class FirsAuthError(FirsError):
    outcome = AUTH


class FirsRetryable(FirsError):
    outcome = RETRY

    def __init__(self, message, *, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class FirsCircuitOpen(FirsRetryable):
    outcome = CIRCUIT_OPEN


class FirsOutcomeUnknown(FirsError):
    outcome = UNKNOWN


def json_bytes(body) -> bytes:
    """`body` as JSON bytes, Decimals written as the exact JSON numbers they
    hold (FIRS amounts are numbers; going through float could change them)."""
    numbers = {}

    def mark(value):
        if isinstance(value, Decimal):
            key = f"@@decimal{len(numbers)}@@"
            numbers[key] = format(value, "f")
            return key
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mark(v) for v in value]
        if isinstance(value, datetime.datetime | datetime.date):
            return value.isoformat()
        return value

    text = json.dumps(mark(body), ensure_ascii=False)
    for key, number in numbers.items():
        text = text.replace(f'"{key}"', number, 1)
    return text.encode("utf-8")


def mask_body(content: bytes | None) -> str:
    """The request body as text for the record, secret values masked."""
    if not content:
        return ""
    text = content.decode("utf-8", errors="replace")
    redacted = redacted_json(text, SECRET_KEYS)
    return text if redacted is None else redacted


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class FirsClient:
    def __init__(self, base_url: str, api_key: str, api_secret: str, timeout: float | None = None, *,
                 breaker: CircuitBreaker | None = None, transport: KeepAliveTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = float(settings.FIRS_TIMEOUT_SECONDS if timeout is None else timeout)
        self.breaker = breaker or CircuitBreaker(self.base_url)
        # Requests go straight to the pooled transport (`KeepAliveTransport.request`),
        # not through an httpx.Client nor httpx's Request and Response: the
        # client's layers (cookies, auth and redirect flows, header merging)
        # do nothing for FIRS (header auth, no cookies, no redirects followed)
        # and cost ~0.2 ms of CPU a request, the objects ~70 µs; four a sale.
        self._owns_transport = transport is None
        self._transport = transport or new_transport()
        self._headers = [(codes.API_KEY_HEADER, api_key), (codes.API_SECRET_HEADER, api_secret),
                         ("accept", "application/json"), ("user-agent", "TaxPoynt-FIRS-client")]
        self._body_headers = [*self._headers, ("content-type", "application/json")]

    def close(self):
        if self._owns_transport:  # a shared pool (get_client's) outlives any one client
            self._transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the API ---------------------------------------------------------------
    def health(self) -> Exchange:
        return self._send("health", "GET", codes.HEALTH_PATH)

    def validate_irn(self, business_id: str, invoice_reference: str, irn: str) -> Exchange:
        body = {"business_id": str(business_id), "invoice_reference": invoice_reference, "irn": irn}
        return self._call("irn_validate", body=body)

    def validate_invoice(self, body: bytes | dict) -> Exchange:
        return self._call("validate", body=body)

    def sign_invoice(self, body: bytes | dict) -> Exchange:
        return self._call("sign", body=body)

    def confirm(self, irn: str) -> Exchange:
        return self._call("confirm", irn=irn)

    def download(self, irn: str) -> Exchange:
        return self._call("download", irn=irn)

    def search(self, business_id: str, **params) -> Exchange:
        return self._call("search", business_id=business_id, params=params)

    def transmit(self, irn: str) -> Exchange:
        return self._call("transmit", irn=irn)

    def transmit_confirm(self, irn: str) -> Exchange:
        """The buyer's acknowledgement of receipt (PATCH transmit)."""
        return self._call("transmit_confirm", irn=irn, body={})

    def lookup(self, irn: str) -> Exchange:
        return self._call("lookup", irn=irn)

    def lookup_tin(self, tin: str) -> Exchange:
        return self._call("lookup_tin", tin=tin)

    def lookup_party(self, party_id: str) -> Exchange:
        return self._call("lookup_party", party_id=party_id)

    def pull(self, **params) -> Exchange:
        return self._call("pull", params=params)

    def self_health_check(self) -> Exchange:
        return self._call("self_health_check")

    def update_payment(self, irn: str, status: str, *, reference: str | None = None) -> Exchange:
        if status not in codes.PAYMENT_STATUSES:
            raise ApplicationError(
                f"Payment status {status!r} is not one FIRS accepts ({', '.join(codes.PAYMENT_STATUSES)}).",
                code="invalid_payment_status",
            )
        body = {"payment_status": status}
        if reference:
            body["reference"] = reference
        return self._call("update", irn=irn, body=body)

    def entity(self, entity_id: str) -> Exchange:
        return self._call("entity", entity_id=entity_id)

    def search_entities(self, **params) -> Exchange:
        return self._call("entity_search", params=params)

    def create_party(self, party: dict) -> Exchange:
        return self._call("party_create", body=party)

    def list_parties(self, business_id: str) -> Exchange:
        return self._call("party_list", business_id=business_id)

    def verify_tin(self, tin: str) -> Exchange:
        return self._call("verify_tin", body={"tin": tin})

    def authenticate(self, email: str, password: str) -> Exchange:
        return self._call("authenticate", body={"email": email, "password": password})

    def resources(self, name: str) -> Exchange:
        return self._call("resources", resource=name)

    # --- machinery -------------------------------------------------------------
    def _call(self, endpoint: str, *, body=None, params=None, **path_params) -> Exchange:
        method, template = codes.ENDPOINTS[endpoint]
        path = codes.API_PREFIX + template.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})
        return self._send(endpoint, method, path, body=body, params=params)

    def _send(self, endpoint, method, path, *, body=None, params=None) -> Exchange:
        if isinstance(body, dict | list):
            content = json_bytes(body)
        elif isinstance(body, str):
            content = body.encode("utf-8")
        else:
            content = body
        params = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.base_url + path
        if params:  # httpx encodes the query, as it would for a request through it
            url = str(httpx.URL(url, params=params))
        exchange = Exchange(method=method, url=url, request_body=mask_body(content), status_code=None,
                            response_body="", latency_ms=0, endpoint=endpoint)
        if not self.breaker.allow():
            exchange.outcome = CIRCUIT_OPEN
            exchange.error = f"circuit open for {self.base_url}"
            raise FirsCircuitOpen(f"FIRS circuit breaker is open for {self.base_url}; not sending.",
                                  exchange=exchange, retry_after=self.breaker.retry_in() or None)
        headers = self._body_headers if content is not None else self._headers
        started = time.perf_counter()
        try:
            answer = self._transport.request(method, url, headers=headers, body=content, timeout=self.timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self._fail(exchange, started, FirsRetryable, f"could not connect to FIRS: {exc!r}")
        except httpx.LocalProtocolError:
            raise  # our bug, not FIRS's: surface it
        except httpx.TransportError as exc:
            if method == "GET":
                self._fail(exchange, started, FirsRetryable, f"FIRS read failed: {exc!r}")
            self._fail(exchange, started, FirsOutcomeUnknown,
                       f"FIRS may have received the request but no answer came ({type(exc).__name__}: {exc})")
        exchange.latency_ms = round((time.perf_counter() - started) * 1000)
        exchange.status_code = answer.status
        # FIRS answers JSON, which is UTF-8 (RFC 8259); what is not is kept readable.
        exchange.response_body = answer.content.decode("utf-8", errors="replace")
        return self._interpret(exchange, answer)

    def _fail(self, exchange, started, error_class, message):
        exchange.latency_ms = round((time.perf_counter() - started) * 1000)
        exchange.outcome = error_class.outcome
        exchange.error = message
        self._finish(exchange, upstream_failed=True)
        raise error_class(message, exchange=exchange)

    def _finish(self, exchange, *, upstream_failed: bool):
        if upstream_failed:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        FIRS_REQUEST_LATENCY.labels(endpoint=exchange.endpoint, outcome=exchange.outcome).observe(
            exchange.latency_ms / 1000
        )
        logger.info(
            "firs request",
            extra={"endpoint": exchange.endpoint, "status": exchange.status_code,
                   "outcome": exchange.outcome, "latency_ms": exchange.latency_ms},
        )

    def _interpret(self, exchange: Exchange, answer: Answer) -> Exchange:
        status = answer.status
        try:
            # Amounts stay Decimal (never float) in `data`.
            envelope = json.loads(answer.content, parse_float=Decimal) if answer.content else None
        except ValueError:  # includes UnicodeDecodeError
            envelope = None
        if 200 <= status < 300:
            if not isinstance(envelope, dict | list):
                error_class = FirsRetryable if exchange.method == "GET" else FirsOutcomeUnknown
                return self._raise(exchange, error_class, f"FIRS answered {status} with a body that is not JSON",
                                   upstream_failed=True)
            # Envelope {"code", "data"}; /api and some resources answer bare.
            is_envelope = isinstance(envelope, dict) and "code" in envelope and "data" in envelope
            exchange.data = envelope["data"] if is_envelope else envelope
            exchange.outcome = OK
            self._finish(exchange, upstream_failed=False)
            return exchange
        error = (envelope or {}).get("error") if isinstance(envelope, dict) else None
        error = error if isinstance(error, dict) else {}
        info = {
            "handler": error.get("handler") or "",
            "details": error.get("details") or "",
            "public_message": error.get("public_message") or "",
            "error_id": error.get("id") or "",
            "errors": error.get("errors") or [],
        }
        message = envelope.get("message") if isinstance(envelope, dict) else None
        summary = info["details"] or info["public_message"] or message or exchange.response_body[:200]
        if status in (401, 403) or (status == 400 and codes.AUTH_PUBLIC_MESSAGE in info["public_message"].lower()):
            return self._raise(exchange, FirsAuthError, f"FIRS refused the credentials ({status}): {summary}", **info)
        if status == 429 or status >= 500 or status == 408:
            retry_after = parse_retry_after(answer.header("retry-after"))
            return self._raise(exchange, FirsRetryable, f"FIRS is unavailable ({status}): {summary}",
                               upstream_failed=True, retry_after=retry_after, **info)
        if exchange.endpoint == "sign" and status == 400 and self._is_duplicate(info):
            return self._raise(exchange, FirsDuplicate, f"FIRS says this IRN is already signed: {summary}", **info)
        if status == 404:
            return self._raise(exchange, FirsNotFound, f"FIRS does not know it (404): {summary}", **info)
        return self._raise(exchange, FirsRejected, f"FIRS rejected the request ({status}): {summary}", **info)

    @staticmethod
    def _is_duplicate(info) -> bool:
        # FIRS names its handler after the route group, so invoice validation
        # failures carry "invoice_actions" too; the details tell them apart.
        return (info["handler"] == codes.DUPLICATE_HANDLER
                and info["details"].strip().lower() == codes.DUPLICATE_DETAILS)

    def _raise(self, exchange, error_class, message, *, upstream_failed=False, **kwargs):
        exchange.outcome = error_class.outcome
        exchange.error = message
        self._finish(exchange, upstream_failed=upstream_failed)
        raise error_class(message, exchange=exchange, **kwargs)


def signed_document_matches(confirm_data: dict, body: bytes) -> bool | None:
    """After a duplicate or an unknown outcome: is the document FIRS holds under
    this IRN the one we sent?

    True/False when the answer carries our sandbox's `body_sha256` extension;
    with the real FIRS (only the §3 fields) False when issue or due date
    differ, else None: FIRS holds *a* document under this IRN and nothing
    contradicts it being ours, but nothing proves it either.
    """
    if confirm_data.get("body_sha256"):
        return confirm_data["body_sha256"] == hashlib.sha256(body).hexdigest()
    sent = json.loads(body)
    for key in ("issue_date", "due_date"):
        if confirm_data.get(key) and sent.get(key) and confirm_data[key][:10] != sent[key]:
            return False
    return None


def new_transport() -> KeepAliveTransport:
    """A pool of keep-alive connections to FIRS."""
    return KeepAliveTransport(limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))


_clients: dict[tuple, FirsClient] = {}
_transports: dict[str, KeepAliveTransport] = {}
_clients_lock = threading.Lock()


def get_client(*, api_key: str, api_secret: str, base_url: str | None = None, timeout: float | None = None) -> FirsClient:
    """One client per process per (base URL, credentials, timeout), and one
    connection pool per base URL that all of them share: every organization
    sends to the same FIRS host, its credentials are only headers, and a
    pool of its own per organization would cost each worker process a TLS
    context (~20 ms of CPU) and new connections for every merchant it meets."""
    base_url = (base_url or settings.FIRS_BASE_URL).rstrip("/")
    key = (base_url, api_key, hashlib.sha256(api_secret.encode()).hexdigest(), timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            transport = _transports.get(base_url)
            if transport is None:
                transport = _transports[base_url] = new_transport()
            client = _clients[key] = FirsClient(base_url, api_key, api_secret, timeout, transport=transport)
        return client

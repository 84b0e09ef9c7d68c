"""The sandbox's in-memory world and its control surface (`app.sandbox`).

Holds the registered businesses (each with its credentials, service id and a
generated crypto key pair whose private half the sandbox keeps), the signed
invoices, the fault rules, the latency setting, the request counts and the
webhook log. Every method takes the one lock, so the threaded server can
serve requests concurrently.
"""
import datetime
import hashlib
import json
import logging
import math
import random
import secrets
import threading
import uuid
from collections import Counter, OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor, wait as futures_wait
from dataclasses import dataclass

import httpx

from taxpoynt.errors import ApplicationError
from taxpoynt.transport import KeepAliveTransport

from .. import codes
from ..irn import irn_template
from ..stamp import decrypt_stamp, generate_test_crypto_keys

STATUS_FAULTS = ("500", "502", "503", "504", "429")
FAULT_KINDS = STATUS_FAULTS + ("reset", "hang", "commit_then_timeout", "commit_then_reset")
LATENCY_MODES = ("none", "fixed", "random")
AUTH_MODES = ("400", "401")

logger = logging.getLogger(__name__)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


# Concurrent webhook deliveries; each may wait up to webhook_timeout on a slow receiver.
DELIVERY_THREADS = 32
# Bodies `validate` found valid, kept for the `sign` of the same bytes
# (app.FirsSandboxApp.checked_invoice); a sale's two calls come ms apart.
VALID_BODIES_KEPT = 256


@dataclass
class Business:
    business_id: str
    entity_id: str
    service_id: str
    tin: str
    name: str
    email: str
    password: str
    api_key: str
    api_secret: str
    crypto_keys_json: str
    private_key_pem: bytes
    certificate: str
    webhook_url: str = ""

    @property
    def irn_template(self) -> str:
        return irn_template(self.service_id)

    def as_dict(self, *, secrets_too=True) -> dict:
        data = {
            "business_id": self.business_id,
            "entity_id": self.entity_id,
            "service_id": self.service_id,
            "tin": self.tin,
            "name": self.name,
            "email": self.email,
            "irn_template": self.irn_template,
            "webhook_url": self.webhook_url,
        }
        if secrets_too:
            data.update(
                api_key=self.api_key,
                api_secret=self.api_secret,
                password=self.password,
                crypto_keys=self.crypto_keys_json,
                private_key_pem=self.private_key_pem.decode("ascii"),
            )
        return data


@dataclass
class SignedInvoice:
    irn: str
    business_id: str
    raw: bytes
    body: dict
    signed_at: datetime.datetime
    payment_status: str
    transmitted: bool = False
    delivered: bool = False
    transmitted_at: datetime.datetime | None = None
    delivered_at: datetime.datetime | None = None
    payment_reference: str = ""

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def party_tin(self, key) -> str:
        party = self.body.get(key) or {}
        return party.get("tin", "") if isinstance(party, dict) else ""

    def confirm_data(self) -> dict:
        data = {
            "irn": self.irn,
            "business_id": self.business_id,
            "invoice_type_code": self.body.get("invoice_type_code"),
            "issue_date": self.body.get("issue_date"),
            "due_date": self.body.get("due_date"),
            "sync_date": self.signed_at.isoformat(),
            "payment_status": self.payment_status,
            "transmitted": self.transmitted,
            "delivered": self.delivered,
            # Sandbox extensions (not in FIRS's documented answer): let a
            # client that got "duplicate" prove the signed document is its own.
            "body_sha256": self.body_sha256,
            "legal_monetary_total": self.body.get("legal_monetary_total"),
        }
        return data

    def as_dict(self) -> dict:
        return {
            **self.confirm_data(),
            "supplier_tin": self.party_tin("accounting_supplier_party"),
            "customer_tin": self.party_tin("accounting_customer_party"),
            "transmitted_at": self.transmitted_at.isoformat() if self.transmitted_at else None,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "payment_reference": self.payment_reference,
            "body": self.body,
        }


@dataclass
class FaultRule:
    endpoint: str  # a codes.ENDPOINTS name, "health", or "*" for every endpoint
    kind: str
    probability: float = 1.0
    times: int | None = None  # None: forever; else how many more times it fires
    hang_seconds: float | None = None

    def as_dict(self):
        return {"endpoint": self.endpoint, "kind": self.kind, "probability": self.probability,
                "times": self.times, "hang_seconds": self.hang_seconds}


class Sandbox:
    def __init__(self, *, seed=None, hang_seconds=35.0, auth_mode="400", latency=None, webhook_timeout=5.0):
        self.lock = threading.RLock()
        self.random = random.Random(seed)
        self.default_hang_seconds = float(hang_seconds)
        self.webhook_timeout = webhook_timeout
        self._initial = {"auth_mode": auth_mode, "latency": latency}
        self.base_url = ""
        # Reused threads and one pool of kept connections (the product's own
        # transport, without httpx's objects: `KeepAliveTransport.request`): a
        # thread and an HTTP client per transmit cost far more than serving
        # the request. Not closed by `close()`, so a delivery still running
        # never meets a closed pool.
        self._webhooks = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="firs-sandbox-webhook")
        self._pending_webhooks: set[Future] = set()
        self._webhook_transport = KeepAliveTransport(limits=httpx.Limits(
            max_connections=DELIVERY_THREADS, max_keepalive_connections=DELIVERY_THREADS))
        self._stop = threading.Event()
        self._init_state()

    def _init_state(self):
        self.businesses: dict[str, Business] = {}
        self.invoices_by_irn: dict[str, SignedInvoice] = {}
        self.parties: dict[str, dict] = {}
        self.faults: list[FaultRule] = []
        self.requests = Counter()
        self.webhook_log: list[dict] = []
        self.valid_bodies: OrderedDict[tuple, dict] = OrderedDict()
        self.auth_mode = "400"
        self.latency = {"mode": "none"}
        self.set_auth_mode(self._initial["auth_mode"])
        if self._initial["latency"]:
            self.set_latency(**self._initial["latency"])

    # --- businesses ----------------------------------------------------------
    def register_business(self, *, name="Sandbox Business Ltd", tin=None, service_id=None, business_id=None,
                          entity_id=None, api_key=None, api_secret=None, email=None, password=None,
                          webhook_url="", keys=None) -> Business:
        """Register a business; `keys` (a stamp.TestCryptoKeys) reuses a key pair
        instead of generating one (RSA generation is the slow part)."""
        keys = keys or generate_test_crypto_keys()
        service_id = service_id or secrets.token_hex(4).upper()
        irn_template(service_id)  # raises ApplicationError on a bad service id
        business = Business(
            business_id=str(uuid.UUID(str(business_id))) if business_id else str(uuid.uuid4()),
            entity_id=str(uuid.UUID(str(entity_id))) if entity_id else str(uuid.uuid4()),
            service_id=service_id,
            tin=tin or f"{secrets.randbelow(10**8):08d}-0001",
            name=name,
            email=email or f"{service_id.lower()}@sandbox.example.ng",
            password=password or secrets.token_urlsafe(12),
            api_key=api_key or str(uuid.uuid4()),
            api_secret=api_secret or secrets.token_urlsafe(48),
            crypto_keys_json=keys.crypto_keys_json,
            private_key_pem=keys.private_key_pem,
            certificate=keys.keys.certificate,
            webhook_url=webhook_url or "",
        )
        with self.lock:
            self.businesses[business.business_id] = business
        return business

    def authenticate(self, api_key, api_secret) -> list[Business]:
        """The businesses these credentials may act for (empty: refused)."""
        if not api_key or not api_secret:
            return []
        with self.lock:
            return [
                b for b in self.businesses.values()
                if secrets.compare_digest(b.api_key, api_key) and secrets.compare_digest(b.api_secret, api_secret)
            ]

    def business(self, business_id) -> Business | None:
        with self.lock:
            return self.businesses.get(str(business_id))

    def set_webhook(self, business_id, url):
        with self.lock:
            business = self.businesses.get(str(business_id))
            if business is None:
                raise ApplicationError(f"no sandbox business {business_id}")
            business.webhook_url = url or ""

    # --- faults and latency ---------------------------------------------------
    def set_fault(self, endpoint, kind, *, probability=1.0, times=None, hang_seconds=None) -> FaultRule:
        if kind not in FAULT_KINDS:
            raise ApplicationError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if endpoint != "*" and endpoint != "health" and endpoint not in codes.ENDPOINTS:
            raise ApplicationError(f"unknown endpoint {endpoint!r}; one of *, health, {', '.join(codes.ENDPOINTS)}")
        probability = float(probability)
        if not 0 <= probability <= 1:
            raise ApplicationError("probability must be between 0 and 1")
        rule = FaultRule(endpoint=endpoint, kind=kind, probability=probability,
                         times=None if times is None else int(times),
                         hang_seconds=None if hang_seconds is None else float(hang_seconds))
        with self.lock:
            self.faults.append(rule)
        return rule

    def clear_faults(self):
        with self.lock:
            self.faults.clear()

    def pick_fault(self, endpoint) -> FaultRule | None:
        """The fault to apply to this request, if any (consumes a `times`)."""
        with self.lock:
            for rule in self.faults:
                if rule.endpoint not in ("*", endpoint) or rule.times == 0:
                    continue
                if rule.probability >= 1 or self.random.random() < rule.probability:
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def hang_seconds(self, rule: FaultRule) -> float:
        return self.default_hang_seconds if rule.hang_seconds is None else rule.hang_seconds

    def set_latency(self, mode="none", ms=0, min_ms=100, max_ms=1500):
        if mode not in LATENCY_MODES:
            raise ApplicationError(f"latency mode must be one of {', '.join(LATENCY_MODES)}")
        with self.lock:
            self.latency = {"mode": mode, "ms": float(ms), "min_ms": float(min_ms), "max_ms": float(max_ms)}

    def latency_seconds(self) -> float:
        with self.lock:
            latency = dict(self.latency)
            if latency["mode"] == "fixed":
                return latency["ms"] / 1000
            if latency["mode"] == "random":
                # Long tail: log-normal around ~1/4 of the range, clipped.
                low, high = latency["min_ms"], latency["max_ms"]
                median = low + (high - low) * 0.15
                value = self.random.lognormvariate(math.log(median), 0.6)
                return min(max(value, low), high) / 1000
        return 0.0

    def set_auth_mode(self, mode):
        mode = str(mode)
        if mode not in AUTH_MODES:
            raise ApplicationError(f"auth mode must be one of {', '.join(AUTH_MODES)}")
        with self.lock:
            self.auth_mode = mode

    def wait(self, seconds) -> None:
        """Sleep that `reset()`/`close()` cut short, so hung requests end."""
        if seconds > 0:
            self._stop.wait(seconds)

    # --- invoices -------------------------------------------------------------
    def sign(self, business: Business, raw: bytes, body: dict) -> SignedInvoice | None:
        """Register the IRN; None when it is already signed (duplicate)."""
        with self.lock:
            if body["irn"] in self.invoices_by_irn:
                return None
            invoice = SignedInvoice(
                irn=body["irn"], business_id=business.business_id, raw=raw, body=body, signed_at=_now(),
                payment_status=body.get("payment_status") or codes.DEFAULT_PAYMENT_STATUS,
            )
            self.invoices_by_irn[invoice.irn] = invoice
            return invoice

    def keep_valid_body(self, key: tuple, body: dict) -> None:
        """Keep a body found valid under `key` (its bytes and the callers'
        businesses), the oldest dropped past VALID_BODIES_KEPT."""
        with self.lock:
            self.valid_bodies[key] = body
            self.valid_bodies.move_to_end(key)
            if len(self.valid_bodies) > VALID_BODIES_KEPT:
                self.valid_bodies.popitem(last=False)

    def take_valid_body(self, key: tuple) -> dict | None:
        """The body kept under `key`, no longer kept (its sign owns it)."""
        with self.lock:
            return self.valid_bodies.pop(key, None)

    def invoice(self, irn) -> SignedInvoice | None:
        with self.lock:
            return self.invoices_by_irn.get(irn)

    def invoices(self) -> list[dict]:
        with self.lock:
            return [inv.as_dict() for inv in self.invoices_by_irn.values()]

    def transmit(self, invoice: SignedInvoice, business: Business):
        with self.lock:
            invoice.transmitted = True
            invoice.transmitted_at = invoice.transmitted_at or _now()
            url = business.webhook_url
        future = self._webhooks.submit(self._deliver_webhooks, url, invoice.irn)
        with self.lock:
            self._pending_webhooks.add(future)
        future.add_done_callback(self._webhook_done)

    def _webhook_done(self, future: Future):
        with self.lock:
            self._pending_webhooks.discard(future)
        if future.exception() is not None:  # a bad URL, say: logged, later deliveries go on
            logger.error("FIRS sandbox webhook delivery failed", exc_info=future.exception())

    def _deliver_webhooks(self, url, irn):
        # The UNCONFIRMED message list; FAILED is sent only if delivery fails.
        for message in ("TRANSMITTING", "TRANSMITTED", "ACKNOWLEDGED"):
            entry = {"url": url, "irn": irn, "message": message, "at": _now().isoformat()}
            try:
                entry["status_code"] = self._webhook_transport.request(
                    "POST", url, headers=[("Content-Type", "application/json")],
                    body=json.dumps({"irn": irn, "message": message}).encode(), timeout=self.webhook_timeout).status
            except httpx.HTTPError as exc:
                entry["error"] = repr(exc)
            with self.lock:
                self.webhook_log.append(entry)
            if "error" in entry or entry["status_code"] >= 400:
                with self.lock:
                    self.webhook_log.append({"url": url, "irn": irn, "message": "FAILED", "at": _now().isoformat(),
                                             "delivered": False})
                return

    def join_webhooks(self, timeout=10.0):
        """Wait for outstanding webhook deliveries (tests)."""
        with self.lock:
            pending = list(self._pending_webhooks)
        futures_wait(pending, timeout)

    # --- stamps ---------------------------------------------------------------
    def verify_stamp(self, stamp: str) -> dict:
        """Decrypt a QR stamp with whichever business key opens it."""
        with self.lock:
            businesses = list(self.businesses.values())
        for business in businesses:
            try:
                decrypted = decrypt_stamp(stamp, business.private_key_pem)
            except ApplicationError:
                continue
            return {
                "valid": decrypted.certificate == business.certificate,
                "business_id": business.business_id,
                "irn": decrypted.irn,
                "timestamp": decrypted.timestamp,
                "certificate_matches": decrypted.certificate == business.certificate,
                "plaintext": decrypted.plaintext,
                "signed": self.invoice(decrypted.irn) is not None,
            }
        return {"valid": False, "error": "no sandbox key decrypts this stamp"}

    # --- lifecycle --------------------------------------------------------------
    def count(self, endpoint):
        with self.lock:
            self.requests[endpoint] += 1

    def reset(self, *, keep_businesses=False):
        """Forget everything (businesses too unless asked) and release hung requests."""
        with self.lock:
            self._stop.set()
            self._stop = threading.Event()
            businesses = self.businesses
            self._init_state()
            if keep_businesses:
                self.businesses = businesses

    def close(self):
        self._stop.set()
        self._webhooks.shutdown(wait=False)

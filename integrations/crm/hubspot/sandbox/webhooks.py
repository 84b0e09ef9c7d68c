"""The sandbox's webhook sender: delivers HubSpot-style event batches to the
app's target URL from a background thread, signs them, retries like HubSpot,
and keeps a delivery log.

Each POST body is a JSON array of events. Headers, per HubSpot "Validating
requests": X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client secret,
method + URI + body + timestamp)) with X-HubSpot-Request-Timestamp (ms); and the
legacy X-HubSpot-Signature (v1: sha256 hex of secret + body) with
X-HubSpot-Signature-Version "v1". A delivery is retried up to 10 times with
exponential backoff (base 60 s × 2^n, multiplied by `time_factor` so tests
wait milliseconds) after connection errors, timeouts and any status other than
2xx and 400/401/403/404/405; a 429's Retry-After (seconds, also scaled) wins
over the backoff. Every retry carries the same eventIds with attemptNumber+1.
"""
import base64
import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field

import httpx

from . import facts


def v3_signature(secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    for escaped, char in facts.V3_URI_DECODE.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    source = f"{method}{uri}{body}{timestamp}".encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def v1_signature(secret: str, body: str) -> str:
    return hashlib.sha256(f"{secret}{body}".encode()).hexdigest()


@dataclass
class Delivery:
    id: int
    url: str
    secret: str
    events: list[dict]
    mode: str = "normal"      # normal | redelivery | tampered_body | bad_signature | old_timestamp | wrong_secret
    retry: bool = True
    attempt: int = 0
    state: str = "pending"    # pending | delivered | failed | gave_up
    attempts: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.id, "url": self.url, "mode": self.mode, "state": self.state,
                "eventIds": [e["eventId"] for e in self.events], "events": self.events,
                "attempts": list(self.attempts)}


class WebhookSender:
    def __init__(self, *, time_factor: float, timeout: float, max_retries: int, backoff_base: float):
        self.time_factor = time_factor
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.cond = threading.Condition()
        self._seq = itertools.count(1)
        self._event_ids = itertools.count(1000000001)
        self._thread = None
        self._client = None
        self._closed = False
        self.in_flight = 0  # not reset: a send may be under way across reset()
        self.reset()

    def reset(self):
        with self.cond:
            self.queue: list[tuple[float, int, Delivery]] = []
            self.deliveries: dict[int, Delivery] = {}
            self.events: dict[int, dict] = {}
            self.cond.notify_all()

    def next_event_id(self) -> int:
        return next(self._event_ids)

    # scheduling ----------------------------------------------------------
    def enqueue(self, *, url: str, secret: str, events: list[dict], mode: str = "normal",
                retry: bool = True) -> Delivery:
        with self.cond:
            for e in events:
                self.events.setdefault(e["eventId"], e)
            delivery = Delivery(id=next(self._seq), url=url, secret=secret, events=events, mode=mode, retry=retry)
            self.deliveries[delivery.id] = delivery
            heapq.heappush(self.queue, (time.monotonic(), delivery.id, delivery))
            self._ensure_thread()
            self.cond.notify_all()
            return delivery

    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="hubspot-sandbox-webhooks", daemon=True)
            self._thread.start()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or being sent (True) or `timeout` passes."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.queue or self.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))
            return True

    def close(self, timeout: float = 5.0):
        """Stop sending and close the keep-alive connections: a receiver's
        request thread (and whatever it holds, a database connection) is not
        kept waiting for a next request that never comes."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def log(self) -> list[dict]:
        with self.cond:
            return [d.as_dict() for d in sorted(self.deliveries.values(), key=lambda d: d.id)]

    # worker -------------------------------------------------------------
    def _run(self):
        self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        try:
            self._send_until_closed()
        finally:
            self._client.close()

    def _send_until_closed(self):
        while True:
            with self.cond:
                while not self._closed and (not self.queue or self.queue[0][0] > time.monotonic()):
                    wait = None if not self.queue else self.queue[0][0] - time.monotonic()
                    self.cond.wait(wait if wait is None else max(wait, 0.001))
                if self._closed:
                    return
                _, _, delivery = heapq.heappop(self.queue)
                if self.deliveries.get(delivery.id) is not delivery:
                    continue  # reset happened meanwhile
                self.in_flight += 1
            try:
                delay = self._attempt(delivery)
            finally:
                with self.cond:
                    self.in_flight -= 1
                    if delay is not None and self.deliveries.get(delivery.id) is delivery:
                        heapq.heappush(self.queue, (time.monotonic() + delay, delivery.id, delivery))
                    self.cond.notify_all()

    def _attempt(self, delivery: Delivery) -> float | None:
        """Send once; return the delay before the next attempt, or None when done."""
        events = [{**e, "attemptNumber": delivery.attempt} for e in delivery.events]
        body = json.dumps(events, separators=(",", ":"))
        timestamp = str(int(time.time() * 1000))
        secret, sent_body = delivery.secret, body
        if delivery.mode == "old_timestamp":
            timestamp = str(int(time.time() * 1000) - 10 * 60 * 1000)
        if delivery.mode == "wrong_secret":
            secret = "not-" + secret
        headers = {
            "Content-Type": "application/json",
            "User-Agent": facts.WEBHOOK_USER_AGENT,
            "X-HubSpot-Signature": v1_signature(secret, body),
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Signature-v3": v3_signature(secret, "POST", delivery.url, body, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        if delivery.mode == "tampered_body":
            # Signed over the real body, sent with one value changed in transit.
            forged = [dict(e) for e in events]
            forged[0]["objectId"] = int(forged[0].get("objectId") or 0) + 1
            sent_body = json.dumps(forged, separators=(",", ":"))
        if delivery.mode == "bad_signature":
            headers["X-HubSpot-Signature-v3"] = base64.b64encode(b"x" * 32).decode()
            headers["X-HubSpot-Signature"] = "0" * 64
        record = {"attemptNumber": delivery.attempt, "sentAt": int(time.time() * 1000),
                  "timestamp": timestamp, "status": None, "error": None}
        started = time.monotonic()
        delay = None
        try:
            response = self._client.post(delivery.url, content=sent_body.encode(), headers=headers)
        except httpx.TimeoutException as exc:
            record["error"] = f"timeout: {exc.__class__.__name__}"
            outcome = "retry"
        except httpx.HTTPError as exc:
            record["error"] = f"connection: {exc.__class__.__name__}: {exc}"
            outcome = "retry"
        else:
            record["status"] = response.status_code
            if 200 <= response.status_code < 300:
                outcome = "delivered"
            elif response.status_code in facts.WEBHOOK_NO_RETRY_STATUSES:
                outcome = "failed"
            else:
                outcome = "retry"
                if response.status_code == 429:
                    delay = _retry_after(response.headers.get("Retry-After"))
        record["durationMs"] = int((time.monotonic() - started) * 1000)
        with self.cond:
            delivery.attempts.append(record)
            if outcome == "retry" and delivery.retry and delivery.attempt < self.max_retries:
                if delay is None:
                    delay = self.backoff_base * (2 ** delivery.attempt)
                delay *= self.time_factor
                delivery.attempt += 1
                record["nextAttemptInSeconds"] = delay
                return delay
            delivery.state = {"delivered": "delivered", "failed": "failed"}.get(outcome, "gave_up")
            return None


def _retry_after(value) -> float | None:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None

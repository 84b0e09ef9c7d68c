"""The sandbox's webhook sender: signs each event as Square does and POSTs it
from background threads, retrying failures on Square's back-off schedule
(scaled by `time_scale` so tests see 72 h of retries in milliseconds), and
logging every attempt, with Square's metadata headers (environment, the
first attempt's time, a retry's number and reason). Duplicates (the same
body, same event_id) are sent on request, as Square itself sometimes does."""
from __future__ import annotations

import base64
import datetime
import hashlib
import heapq
import hmac
import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx

from integrations.pos.square import constants


def sign(signature_key: str, notification_url: str, body: bytes) -> str:
    """x-square-hmacsha256-signature: base64(HMAC-SHA256(key, url + body))."""
    digest = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_legacy(signature_key: str, notification_url: str, body: bytes) -> str:
    """x-square-signature: base64(HMAC-SHA1(key, url + body)) (legacy)."""
    digest = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    event_id: str = field(compare=False)
    event_type: str = field(compare=False)
    url: str = field(compare=False)
    signature_key: str = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)
    duplicate: bool = field(compare=False, default=False)
    first_due: float = field(compare=False, default=0.0)
    last_reason: str = field(compare=False, default="")
    initial_delivery_at: str = field(compare=False, default="")  # RFC 3339, set by the first attempt


def _retry_reason(error: str, status: int | None) -> str:
    """Why an attempt failed, in Square's words (constants.RETRY_REASONS)."""
    if "Timeout" in error:
        return "http_timeout"
    if "SSL" in error or "CERTIFICATE" in error.upper():
        return "ssl_error"
    return "other_error" if error else "http_error"


class WebhookSender:
    def __init__(self, *, time_scale: float = 1.0, retry_delays=constants.WEBHOOK_RETRY_DELAYS_SECONDS,
                 timeout: float = constants.WEBHOOK_TIMEOUT_SECONDS, workers: int = 8, log_limit: int = 50_000):
        self.time_scale = time_scale
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.log_limit = log_limit
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._log: list[dict] = []
        self._log_lock = threading.Lock()
        self._inflight = 0
        self._stopped = False
        self._http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=workers * 2))
        self._threads = [threading.Thread(target=self._run, name=f"square-webhooks-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    # --- producer side -------------------------------------------------------------
    def enqueue(self, *, event_id: str, event_type: str, url: str, signature_key: str, body: bytes,
                delay: float = 0.0, duplicate: bool = False):
        now = time.monotonic()
        job = _Job(now + delay, next(self._seq), event_id, event_type, url, signature_key, body,
                   duplicate=duplicate, first_due=now + delay)
        with self._cv:
            heapq.heappush(self._heap, job)
            self._cv.notify()

    def clear(self):
        with self._cv:
            self._heap.clear()
        with self._log_lock:
            self._log.clear()

    def pending(self) -> int:
        with self._cv:
            return len(self._heap) + self._inflight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.01)
        return self.pending() == 0

    def log(self, *, event_id: str | None = None) -> list[dict]:
        with self._log_lock:
            rows = list(self._log)
        return [r for r in rows if event_id is None or r["event_id"] == event_id]

    def close(self):
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        for t in self._threads:
            t.join(timeout=2)
        self._http.close()

    # --- worker side ---------------------------------------------------------------
    def _run(self):
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = None if not self._heap else max(0.0, self._heap[0].due - time.monotonic())
                    self._cv.wait(timeout=wait)
                if self._stopped:
                    return
                job = heapq.heappop(self._heap)
                self._inflight += 1
            try:
                self._attempt(job)
            finally:
                with self._cv:
                    self._inflight -= 1

    def _attempt(self, job: _Job):
        if not job.initial_delivery_at:
            job.initial_delivery_at = datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="milliseconds").replace("+00:00", "Z")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Square Connect v2",
            constants.SIGNATURE_HEADER: sign(job.signature_key, job.url, job.body),
            constants.LEGACY_SIGNATURE_HEADER: sign_legacy(job.signature_key, job.url, job.body),
            constants.ENVIRONMENT_HEADER: "Sandbox",
            constants.INITIAL_DELIVERY_HEADER: job.initial_delivery_at,
        }
        if job.attempt > 1:
            headers[constants.RETRY_NUMBER_HEADER] = str(job.attempt - 1)
            headers[constants.RETRY_REASON_HEADER] = job.last_reason
        started = time.monotonic()
        status, error = None, ""
        try:
            resp = self._http.post(job.url, content=job.body, headers=headers)
            status = resp.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        entry = {
            "event_id": job.event_id, "type": job.event_type, "url": job.url, "attempt": job.attempt,
            "duplicate": job.duplicate, "status_code": status, "error": error, "ok": ok,
            "sent_at": time.time(), "latency_ms": round((time.monotonic() - started) * 1000, 2),
        }
        with self._log_lock:
            self._log.append(entry)
            if len(self._log) > self.log_limit:
                del self._log[: len(self._log) - self.log_limit]
        if ok or job.attempt > len(self.retry_delays):
            return
        delay = self.retry_delays[job.attempt - 1] * self.time_scale
        window = constants.WEBHOOK_RETRY_WINDOW.total_seconds() * self.time_scale
        if time.monotonic() + delay - job.first_due > window:
            return
        job.attempt += 1
        job.last_reason = _retry_reason(error, status)
        job.due = time.monotonic() + delay
        job.seq = next(self._seq)
        with self._cv:
            heapq.heappush(self._heap, job)
            self._cv.notify()

"""HubSpot's API rate limits for the sandbox portal.

OAuth apps share a rolling 10-second budget per portal; search endpoints have
their own per-second budget. HubSpot sends X-HubSpot-RateLimit-* headers on
normal API responses (OAuth calls carry no Daily headers: OAuth apps have no
daily limit; private-app calls do). Search responses carry none (our reading
of HubSpot's search docs). A forced-fault queue lets tests get 429/5xx on demand.
"""
import threading
import time
from collections import deque

from . import facts
from .responses import HubSpotError


class RateLimiter:
    def __init__(self, *, ten_secondly: int, search_per_second: int, daily: int):
        self.lock = threading.Lock()
        self.ten_secondly = ten_secondly
        self.search_per_second = search_per_second
        self.daily = daily
        self.reset()

    def reset(self):
        with self.lock:
            self.window: deque[float] = deque()
            self.search_windows: dict[str, deque[float]] = {}
            self.daily_used = 0
            self.faults: list[dict] = []    # each {status, remaining, path_prefix, oauth_error}

    def add_fault(self, *, status: int, count: int | None, path_prefix: str = "/crm/", oauth_error: str | None = None):
        """`count` None: every matching call until `clear_faults`."""
        with self.lock:
            self.faults.append({"status": status, "remaining": count, "path_prefix": path_prefix,
                                "oauth_error": oauth_error})

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def take_fault(self, path: str) -> dict | None:
        """The forced fault the call to `path` answers ({status, oauth_error}), if any."""
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault["path_prefix"]) and (fault["remaining"] is None or fault["remaining"] > 0):
                    if fault["remaining"] is not None:
                        fault["remaining"] -= 1
                    return {"status": fault["status"], "oauth_error": fault["oauth_error"]}
            return None

    def check(self, *, token: str, search: bool, private: bool) -> dict:
        """Count one request; return headers to send, or raise a 429."""
        now = time.monotonic()
        with self.lock:
            while self.window and now - self.window[0] >= 10.0:
                self.window.popleft()
            if search:
                sw = self.search_windows.setdefault(token, deque())
                while sw and now - sw[0] >= 1.0:
                    sw.popleft()
                if len(sw) >= self.search_per_second:
                    raise rate_limit_error("SECONDLY", {})
                sw.append(now)
            if len(self.window) >= self.ten_secondly:
                raise rate_limit_error("TEN_SECONDLY_ROLLING", self._headers(private, remaining=0))
            self.window.append(now)
            self.daily_used += 1
            if search:
                return {}
            return self._headers(private, remaining=self.ten_secondly - len(self.window))

    def _headers(self, private: bool, *, remaining: int) -> dict:
        secondly = max(1, self.ten_secondly // 10)
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(self.ten_secondly),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, min(secondly, remaining))),
        }
        if private:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily - self.daily_used))
        return headers


def rate_limit_error(policy: str, headers: dict) -> HubSpotError:
    message = facts.MSG_SECONDLY if policy == "SECONDLY" else facts.MSG_TEN_SECONDLY
    return HubSpotError(429, message, errorType="RATE_LIMIT", policyName=policy,
                        requestId=f"{time.time_ns():x}", headers=headers)

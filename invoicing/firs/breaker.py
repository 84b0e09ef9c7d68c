"""Circuit breaker per FIRS upstream (key = base URL), state in the Django cache
(Redis outside unit settings) so every worker process shares it.

closed → open after `failure_threshold` consecutive failures → half-open once
`cooldown_seconds` have passed, letting exactly one trial request through →
closed when that trial succeeds, open again (new cool-down) when it fails.
Only failures that say the upstream is unwell count (retryable errors and
unknown outcomes); a rejected invoice is a healthy upstream saying no, and
the client records it as a success.

A clean reading (closed, no failures) is trusted by the process that made it
for `local_trust_seconds` (1 s): a healthy FIRS then costs one cache read a
second per process instead of two round trips per call (four calls a sale),
and another process's opening is seen at most that much later, a handful of
extra calls against a 30 s cool-down.
"""
import datetime
import hashlib
import time

from django.conf import settings
from django.core.cache import cache as default_cache

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

# Keys outlive any sane cool-down but still expire if a host is retired.
KEY_TTL_SECONDS = 24 * 3600

# key -> clock time of this process's last clean reading (see the docstring).
_clean_read_at: dict[str, float] = {}


class CircuitBreaker:
    def __init__(self, key: str, *, failure_threshold=None, cooldown_seconds=None, local_trust_seconds=None,
                 cache=None, clock=time.time):
        self.key = key
        self.failure_threshold = int(
            failure_threshold if failure_threshold is not None else getattr(settings, "FIRS_BREAKER_FAILURE_THRESHOLD", 5)
        )
        self.cooldown_seconds = float(
            cooldown_seconds if cooldown_seconds is not None else getattr(settings, "FIRS_BREAKER_COOLDOWN_SECONDS", 30)
        )
        self.local_trust_seconds = float(
            local_trust_seconds if local_trust_seconds is not None
            else getattr(settings, "FIRS_BREAKER_LOCAL_TRUST_SECONDS", 1.0)
        )
        self.cache = cache or default_cache
        self.clock = clock
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        self._failures_key = f"firs:breaker:{digest}:failures"
        self._opened_key = f"firs:breaker:{digest}:opened_at"
        self._trial_key = f"firs:breaker:{digest}:trial"

    def _trusted_clean(self) -> bool:
        read_at = _clean_read_at.get(self.key)
        return read_at is not None and 0 <= self.clock() - read_at < self.local_trust_seconds

    def allow(self) -> bool:
        """May a request be sent now? In half-open, True for one caller only."""
        if self._trusted_clean():
            return True
        seen = self.cache.get_many([self._opened_key, self._failures_key])
        opened_at = seen.get(self._opened_key)
        if opened_at is None:
            if not seen.get(self._failures_key):
                _clean_read_at[self.key] = self.clock()
            return True
        if self.clock() - opened_at < self.cooldown_seconds:
            return False
        # Half-open: cache.add is atomic, so one process wins the trial. The
        # trial slot expires after a cool-down in case its holder dies.
        return self.cache.add(self._trial_key, self.clock(), timeout=max(1, int(self.cooldown_seconds) + 1))

    def record_success(self) -> None:
        if self._trusted_clean():
            return  # nothing to clear: any failure since was another process's, and its next reading sees it
        self._clear()
        _clean_read_at[self.key] = self.clock()

    def record_failure(self) -> None:
        _clean_read_at.pop(self.key, None)
        if self.cache.get(self._opened_key) is not None:
            # The half-open trial failed (or a straggler from before opening):
            # start a new cool-down.
            self.cache.set(self._opened_key, self.clock(), timeout=KEY_TTL_SECONDS)
            self.cache.delete(self._trial_key)
            return
        self.cache.add(self._failures_key, 0, timeout=KEY_TTL_SECONDS)
        try:
            failures = self.cache.incr(self._failures_key)
        except ValueError:  # expired between add and incr
            self.cache.set(self._failures_key, 1, timeout=KEY_TTL_SECONDS)
            failures = 1
        if failures >= self.failure_threshold:
            self.cache.set(self._opened_key, self.clock(), timeout=KEY_TTL_SECONDS)

    def retry_in(self) -> float:
        """Seconds until the breaker lets a trial through (0 when it would now)."""
        opened_at = self.cache.get(self._opened_key)
        if opened_at is None:
            return 0.0
        return max(0.0, opened_at + self.cooldown_seconds - self.clock())

    def reset(self) -> None:
        """Close it, whatever any process read (support's "reset breaker")."""
        self._clear()
        _clean_read_at.pop(self.key, None)

    def _clear(self) -> None:
        self.cache.delete_many([self._failures_key, self._opened_key, self._trial_key])

    def current(self) -> str:
        opened_at = self.cache.get(self._opened_key)
        if opened_at is None:
            return CLOSED
        return OPEN if self.clock() - opened_at < self.cooldown_seconds else HALF_OPEN

    def state(self) -> dict:
        """For the admin: where the breaker stands and when it may close."""
        opened_at = self.cache.get(self._opened_key)
        state = self.current()

        def iso(ts):
            return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).isoformat() if ts is not None else None

        return {
            "key": self.key,
            "state": state,
            "consecutive_failures": int(self.cache.get(self._failures_key) or 0),
            "failure_threshold": self.failure_threshold,
            "cooldown_seconds": self.cooldown_seconds,
            "opened_at": iso(opened_at),
            "retry_at": iso(opened_at + self.cooldown_seconds) if opened_at is not None else None,
            "trial_in_flight": state == HALF_OPEN and self.cache.get(self._trial_key) is not None,
        }

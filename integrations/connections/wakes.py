"""Wakes: one task message per provider backlog, not one per event.

For a provider that takes events several at a time (`webhook_batch_size` > 1,
events of its `webhook_batch_event_types`), the intake does not publish a
task message for every event. The provider has a wake counter (in Redis),
one for all its connections:

- **Arrival.** After an event's row is committed, the intake counts it on its
  provider's counter (`arrive`). The arrival that starts the counter
  publishes a task message for its event, marked as the provider's wake.
  The later ones publish nothing: they are counted on the wake already on
  its way.
- **Taking.** The wake's task takes the counter (`take`, GETDEL) before it
  claims anything. Every event counted on it was committed before it was
  counted, so the claim that follows sees it. A count of 1 is the task's own
  event alone: it runs alone, with no backlog statement, unless it waited for
  its task (connections.tasks.BACKLOG_WAITED_SECONDS: the workers are busy,
  and sales the sweep or a replay handed over may wait too). Anything else (more
  arrivals, or no counter: it expired, or another wake took it) means a
  backlog, claimed at once, whichever connections its events came from,
  fair between them (services.webhook_events_claim_backlog). An arrival after the taking
  starts a new counter and a new wake, which another worker process takes
  in parallel.
- **Linger.** A sale that arrives alone costs the worker about twice what
  it costs in a batch (the run's fixed statements and calls: 28 against
  15 ms of CPU, docs/performance.md), so at a moderate rate, where every
  wake is taken the moment it is published, the CPU a sale is the lone
  one. So when the provider's previous arrival came less than the linger
  (settings.WEBHOOK_WAKE_LINGER_MS) before this one, the wake's task waits
  out the linger from its event's receipt before it takes the counter: the
  sales that arrive meanwhile join its run. A provider whose sales come
  further apart than that waits for nothing. The gap is measured by Redis's
  own clock, whichever web host counted the arrivals.
- **More than a batch.** A run that claimed a full batch may have left events
  behind; it arrives once itself, so a wake (its own, with no event, or the
  one already pending) takes the next batch while this one runs.

Why one counter a provider, not a connection: forty sellers at a sale a
second each are as many sales as one seller at forty a second, but counted
per seller every sale ran alone (40 sellers at 40/s: the machine 176 % busy
and p99 493 ms, against 125 % and 175 ms with one counter, docs/performance.md).
And at 100 sales/s, taken ten at a time, nine messages in ten found their
event already claimed, and each such message cost ~1.8 ms of CPU across the
worker, Redis, PostgreSQL and the publish.

What a lost wake costs: the counter expires after WAKE_SECONDS, so arrivals
publish again after that at the latest. Events counted on a wake whose
message was lost are still stored, never taken, and the minute's sweep
(`requeue_unclaimed_webhook_events`) hands them over.

With no Redis (the zero-setup demo's in-process tasks) the counters are the
process's own: the same protocol, where a wake's task runs inside its publish.
"""
from __future__ import annotations

import threading
from typing import NamedTuple

from django.conf import settings

# A wake's message waits no longer than this in a healthy queue; past it,
# arrivals publish again (a lost message stops holding them back).
WAKE_SECONDS = 60

_KEY = "taxpoynt:webhook-wake:{}"
_LAST_KEY = "taxpoynt:webhook-last-arrival:{}"


class Arrival(NamedTuple):
    starts: bool  # it starts a wake: the caller publishes the wake's message
    linger: float  # seconds from the event's receipt the wake's task waits before taking (0: none)


# One round trip, atomic: count the arrival (the counter's expiry is set
# once, by its start) and swap the provider's last-arrival time (ms, by
# Redis's clock, modulo 10^8 so Lua's numbers stay exact; a wrapped gap is
# negative and counts as none). Returns {count, gap in ms or -1}.
_ARRIVE_LUA = """
redis.call('SET', KEYS[1], 0, 'NX', 'EX', ARGV[1])
local count = redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local now = (tonumber(t[1]) % 100000) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[2], now, 'PX', ARGV[2])
if last then return {count, now - tonumber(last)} end
return {count, -1}
"""


class _RedisCounters:
    def __init__(self, client):
        self.client = client
        self.arrive_script = client.register_script(_ARRIVE_LUA)

    def arrive(self, key: str, last_key: str, linger_ms: int) -> tuple[int, int]:
        count, gap_ms = self.arrive_script(keys=[key, last_key], args=[WAKE_SECONDS, max(1, linger_ms)])
        return int(count), int(gap_ms)

    def take(self, key: str) -> int | None:
        value = self.client.getdel(key)  # Redis >= 6.2
        return None if value is None else int(value)

    def forget(self, key: str) -> None:
        self.client.delete(key)


class _LocalCounters:
    """In-process counters (no Redis: tasks run inside their publish)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def arrive(self, key: str, last_key: str, linger_ms: int) -> tuple[int, int]:
        # No gap: a wake's task runs inside its publish here, so it never lingers.
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key], -1

    def take(self, key: str) -> int | None:
        with self.lock:
            return self.counts.pop(key, None)

    def forget(self, key: str) -> None:
        with self.lock:
            self.counts.pop(key, None)


_counters = None
_counters_lock = threading.Lock()


def _store():
    global _counters
    if _counters is None:
        with _counters_lock:
            if _counters is None:
                if settings.REDIS_URL:  # the cache is django-redis: its connection pool, no second one
                    from django_redis import get_redis_connection

                    _counters = _RedisCounters(get_redis_connection("default"))
                else:
                    _counters = _LocalCounters()
    return _counters


def arrive(vendor: str) -> Arrival:
    """Count an arrival on the provider's wake: whether it starts one (the
    caller then publishes the wake's message) and the wake's linger."""
    linger_ms = settings.WEBHOOK_WAKE_LINGER_MS
    count, gap_ms = _store().arrive(_KEY.format(vendor), _LAST_KEY.format(vendor), linger_ms)
    return Arrival(starts=count == 1, linger=linger_ms / 1000 if 0 <= gap_ms < linger_ms else 0.0)


def take(vendor: str) -> int | None:
    """The arrivals counted on the provider's wake since it started (the
    counter is gone after this); None when there is no counter."""
    return _store().take(_KEY.format(vendor))


def forget(vendor: str) -> None:
    """Drop the provider's counter (its wake's publish failed), so the
    next arrival publishes again."""
    _store().forget(_KEY.format(vendor))

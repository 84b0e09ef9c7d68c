"""Wakes: one task message per connection backlog, not one per event.

For a provider that takes events several at a time (`webhook_batch_size` > 1,
events of its `webhook_batch_event_types`), the intake does not publish a
task message for every event. A connection has a wake counter (in Redis):

- **Arrival.** After an event's row is committed, the intake counts it on its
  connection's counter (`arrive`). The arrival that starts the counter
  publishes a task message for its event, marked as the connection's wake.
  The later ones publish nothing: they are counted on the wake already on
  its way.
- **Taking.** The wake's task takes the counter (`take`, GETDEL) before it
  claims anything. Every event counted on it was committed before it was
  counted, so the claim that follows sees it. A count of 1 is the task's own
  event alone: it runs alone, with no backlog statement, unless it waited for
  its task (connections.tasks.BACKLOG_WAITED_SECONDS: the workers are busy,
  and sales the sweep or a replay handed over may wait too). Anything else (more
  arrivals, or no counter: it expired, or another wake took it) means a
  backlog, claimed at once. An arrival after the taking starts a new counter
  and a new wake, which another worker process takes in parallel.
- **More than a batch.** A run that claimed a full batch may have left events
  behind; it arrives once itself, so a wake (its own, with no event, or the
  one already pending) takes the next batch while this one runs.

Why: at 100 sales/s, taken ten at a time, nine messages in ten found their
event already claimed, and each such message cost ~1.8 ms of CPU across the
worker, Redis, PostgreSQL and the publish (docs/performance.md).

What a lost wake costs: the counter expires after WAKE_SECONDS, so arrivals
publish again after that at the latest. Events counted on a wake whose
message was lost are still stored, never taken, and the minute's sweep
(`requeue_unclaimed_webhook_events`) hands them over.

With no Redis (the zero-setup demo's in-process tasks) the counters are the
process's own: the same protocol, where a wake's task runs inside its publish.
"""
from __future__ import annotations

import threading

from django.conf import settings

# A wake's message waits no longer than this in a healthy queue; past it,
# arrivals publish again (a lost message stops holding them back).
WAKE_SECONDS = 60

_KEY = "taxpoynt:webhook-wake:{}"


class _RedisCounters:
    def __init__(self, client):
        self.client = client

    def arrive(self, key: str) -> int:
        pipe = self.client.pipeline(transaction=True)
        pipe.set(key, 0, nx=True, ex=WAKE_SECONDS)  # the counter's expiry is set once, by its start
        pipe.incr(key)
        return pipe.execute()[1]

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

    def arrive(self, key: str) -> int:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

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


def arrive(connection_id) -> bool:
    """Count an arrival on the connection's wake; True when it starts one
    (the caller then publishes the wake's message)."""
    return _store().arrive(_KEY.format(connection_id)) == 1


def take(connection_id) -> int | None:
    """The arrivals counted on the connection's wake since it started (the
    counter is gone after this); None when there is no counter."""
    return _store().take(_KEY.format(connection_id))


def forget(connection_id) -> None:
    """Drop the connection's counter (its wake's publish failed), so the
    next arrival publishes again."""
    _store().forget(_KEY.format(connection_id))

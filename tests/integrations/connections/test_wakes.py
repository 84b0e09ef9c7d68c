"""The wake counters (integrations/connections/wakes.py) on the real Redis,
and the process-local ones of the zero-setup demo: the same protocol."""
import time
import uuid

import pytest
import redis
from django.conf import settings

from integrations.connections import wakes


@pytest.fixture(params=["redis", "local"])
def counters(request, monkeypatch):
    if request.param == "redis":
        if not settings.REDIS_URL:
            pytest.skip("no Redis")
        from django_redis import get_redis_connection

        store = wakes._RedisCounters(get_redis_connection("default"))
    else:
        store = wakes._LocalCounters()
    monkeypatch.setattr(wakes, "_counters", store)
    return store


def vendor() -> str:
    return f"vendor-{uuid.uuid4().hex[:8]}"  # a key of its own per test (the Redis is shared)


def test_the_first_arrival_starts_a_wake_and_the_taking_counts_them_all(counters):
    provider = vendor()
    assert [wakes.arrive(provider).starts for _ in range(4)] == [True, False, False, False]
    assert wakes.arrive(vendor()).starts is True  # counters are per provider
    assert wakes.take(provider) == 4
    assert wakes.take(provider) is None  # taken: gone
    assert wakes.arrive(provider).starts is True  # an arrival after the taking starts a new wake
    assert wakes.take(provider) == 1


def test_a_forgotten_wake_lets_the_next_arrival_publish(counters):
    provider = vendor()
    assert wakes.arrive(provider).starts is True
    wakes.forget(provider)
    assert wakes.arrive(provider).starts is True


def test_a_redis_counter_expires_once_from_its_start():
    if not settings.REDIS_URL:
        pytest.skip("no Redis")
    provider = vendor()
    wakes._store()  # the process's counters
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = wakes._KEY.format(provider)
    wakes.arrive(provider)
    client.expire(key, 5)  # as if it started 55 s ago
    wakes.arrive(provider)
    assert 0 < client.ttl(key) <= 5  # later arrivals do not extend it
    assert wakes.take(provider) == 2


def test_a_wake_lingers_when_the_providers_previous_arrival_was_closer_than_the_linger(settings):
    if not settings.REDIS_URL:
        pytest.skip("no Redis")
    settings.WEBHOOK_WAKE_LINGER_MS = 200
    wakes._store()
    provider = vendor()
    assert wakes.arrive(provider) == wakes.Arrival(starts=True, linger=0.0)  # no previous arrival
    assert wakes.take(provider) == 1
    # The next sale 0.2 s later or sooner: its wake waits for the ones after it.
    assert wakes.arrive(provider) == wakes.Arrival(starts=True, linger=0.2)
    assert wakes.arrive(provider) == wakes.Arrival(starts=False, linger=0.2)  # counted on it
    assert wakes.take(provider) == 2
    time.sleep(0.25)  # further apart than the linger: nothing to wait for
    assert wakes.arrive(provider) == wakes.Arrival(starts=True, linger=0.0)
    assert wakes.arrive(vendor()).linger == 0.0  # per provider

    settings.WEBHOOK_WAKE_LINGER_MS = 0  # turned off
    assert wakes.arrive(provider).linger == 0.0


def test_process_local_wakes_never_linger(monkeypatch, settings):
    # The zero-setup demo runs a wake's task inside its publish: a wait would hold up the webhook's answer.
    settings.WEBHOOK_WAKE_LINGER_MS = 200
    monkeypatch.setattr(wakes, "_counters", wakes._LocalCounters())
    provider = vendor()
    assert [wakes.arrive(provider) for _ in range(2)] == [wakes.Arrival(True, 0.0), wakes.Arrival(False, 0.0)]

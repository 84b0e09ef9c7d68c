"""The wake counters (integrations/connections/wakes.py) on the real Redis,
and the process-local ones of the zero-setup demo: the same protocol."""
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


def test_the_first_arrival_starts_a_wake_and_the_taking_counts_them_all(counters):
    connection = uuid.uuid4()
    assert [wakes.arrive(connection) for _ in range(4)] == [True, False, False, False]
    assert wakes.arrive(uuid.uuid4()) is True  # counters are per connection
    assert wakes.take(connection) == 4
    assert wakes.take(connection) is None  # taken: gone
    assert wakes.arrive(connection) is True  # an arrival after the taking starts a new wake
    assert wakes.take(connection) == 1


def test_a_forgotten_wake_lets_the_next_arrival_publish(counters):
    connection = uuid.uuid4()
    assert wakes.arrive(connection) is True
    wakes.forget(connection)
    assert wakes.arrive(connection) is True


def test_a_redis_counter_expires_once_from_its_start():
    if not settings.REDIS_URL:
        pytest.skip("no Redis")
    connection = uuid.uuid4()
    wakes._store()  # the process's counters
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = wakes._KEY.format(connection)
    wakes.arrive(connection)
    client.expire(key, 5)  # as if it started 55 s ago
    wakes.arrive(connection)
    assert 0 < client.ttl(key) <= 5  # later arrivals do not extend it
    assert wakes.take(connection) == 2

import uuid

import pytest

from invoicing.firs.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make(clock):
    key = f"http://firs.test/{uuid.uuid4()}"
    made = []

    def make(**kwargs):
        breaker = CircuitBreaker(key, failure_threshold=3, cooldown_seconds=30, clock=clock, **kwargs)
        made.append(breaker)
        return breaker

    yield make
    made[0].reset()


def test_opens_after_consecutive_failures_only(make):
    breaker = make()
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # breaks the run
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.current() == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.current() == OPEN
    assert not breaker.allow()


def test_half_open_lets_one_trial_through_then_closes_on_success(make, clock):
    breaker = make()
    for _ in range(3):
        breaker.record_failure()
    clock.now += 29
    assert not breaker.allow()
    assert breaker.retry_in() == 1
    clock.now += 2
    assert breaker.retry_in() == 0
    assert breaker.current() == HALF_OPEN
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # everyone else waits for it
    breaker.record_success()
    assert breaker.current() == CLOSED
    assert breaker.state()["consecutive_failures"] == 0
    assert breaker.allow() and breaker.allow()


def test_failed_trial_reopens_for_a_new_cooldown(make, clock):
    breaker = make()
    for _ in range(3):
        breaker.record_failure()
    clock.now += 31
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.current() == OPEN and not breaker.allow()
    clock.now += 31
    assert breaker.allow()


def test_state_is_shared_through_the_cache(make):
    first, second = make(), make()
    for _ in range(3):
        first.record_failure()
    assert second.current() == OPEN
    assert not second.allow()


def test_a_clean_reading_is_trusted_for_a_moment(make, clock):
    breaker, other_process = make(local_trust_seconds=1), make()
    assert breaker.allow()  # reads the cache: closed, no failures
    # Another process opens it (what its record_failure writes; ours never ran).
    other_process.cache.set(other_process._opened_key, clock.now)
    assert breaker.allow()  # the clean reading still stands
    breaker.record_success()  # and clears nothing
    assert other_process.current() == OPEN
    clock.now += 1
    assert not breaker.allow()  # read again: open


def test_own_failure_drops_the_trusted_reading(make):
    breaker = make(local_trust_seconds=60)
    assert breaker.allow()
    for _ in range(3):
        breaker.record_failure()
    assert not breaker.allow()


def test_state_dict_for_the_admin(make, clock):
    breaker = make()
    assert breaker.state()["state"] == CLOSED and breaker.state()["opened_at"] is None
    for _ in range(3):
        breaker.record_failure()
    state = breaker.state()
    assert state["state"] == OPEN
    assert state["consecutive_failures"] == 3
    assert state["failure_threshold"] == 3 and state["cooldown_seconds"] == 30
    assert state["opened_at"].startswith("1970-01-12")
    assert state["retry_at"] > state["opened_at"]
    assert state["key"] == breaker.key

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_throttle_counters():
    """Throttle windows live in Redis across test runs; start each test with none."""
    cache.delete_pattern("*throttle:*")

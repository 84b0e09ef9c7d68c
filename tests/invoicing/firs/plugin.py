"""FIRS test fixtures as a pytest plugin: a real sandbox on a free port (one
server per test module, reset before each test), a registered business and a
client for it.

Other test modules use them with ``pytest_plugins = ["tests.invoicing.firs.plugin"]``
(not the conftest: registering a conftest module as a plugin too makes pytest
refuse the session with "Plugin already registered under a different name").
"""
import pytest

from invoicing.firs.breaker import CircuitBreaker
from invoicing.firs.client import FirsClient
from invoicing.firs.stamp import generate_test_crypto_keys
from taxpoynt import sandboxing

# Short enough that the fault tests stay quick, long enough for a loaded CI box.
CLIENT_TIMEOUT = 1.0
HANG_SECONDS = 4.0


@pytest.fixture(scope="module")
def firs_sandbox_server():
    """One FIRS sandbox per test module, served over a real socket on port 0."""
    running = sandboxing.start("firs", port=0, hang_seconds=HANG_SECONDS)
    yield running
    running.app.sandbox.close()  # release any request still hanging
    running.stop()


@pytest.fixture
def firs_sandbox(firs_sandbox_server):
    """The FIRS sandbox, reset to a clean slate (no businesses, invoices, faults).

    `firs_sandbox.url` is its base URL, `firs_sandbox.app.sandbox` its control object.
    """
    firs_sandbox_server.app.sandbox.reset()
    yield firs_sandbox_server
    firs_sandbox_server.app.sandbox.reset()  # also ends any request left hanging


@pytest.fixture(scope="session")
def firs_test_keys():
    return generate_test_crypto_keys()


@pytest.fixture
def firs_business(firs_sandbox, firs_test_keys):
    """A registered business: service id 59854B81, TIN 31569955-0001."""
    return firs_sandbox.app.sandbox.register_business(
        name="Dangote Test Ltd", tin="31569955-0001", service_id="59854B81", keys=firs_test_keys)


@pytest.fixture
def make_firs_client(firs_sandbox):
    """make(business=None, **kwargs) → FirsClient with a fresh breaker."""
    clients = []

    def make(business=None, *, api_key=None, api_secret=None, base_url=None, timeout=CLIENT_TIMEOUT,
             failure_threshold=5, cooldown_seconds=30):
        base_url = base_url or firs_sandbox.url
        breaker = CircuitBreaker(base_url, failure_threshold=failure_threshold, cooldown_seconds=cooldown_seconds)
        breaker.reset()  # the cache (Redis) outlives a run; ports get reused
        client = FirsClient(
            base_url,
            api_key if api_key is not None else business.api_key,
            api_secret if api_secret is not None else business.api_secret,
            timeout=timeout,
            breaker=breaker,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.breaker.reset()
        client.close()


@pytest.fixture
def firs_client(make_firs_client, firs_business):
    return make_firs_client(firs_business)

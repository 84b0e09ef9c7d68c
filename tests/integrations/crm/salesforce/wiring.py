"""Fixtures for the wiring tests (provider, sync, webhooks, write-back): the
Salesforce sandbox as settings' base URL and a JWT-connected organization."""
import pytest

from integrations.crm.salesforce.oauth import connection_connect_jwt

from .support import SEED


@pytest.fixture
def sf(salesforce, settings, jwt_keys):
    vendor = settings.VENDORS["salesforce"]
    settings.VENDORS = {**settings.VENDORS, "salesforce": {**vendor, "base_url": salesforce.url}}
    box = salesforce.app.sandbox
    box.configure_app(consumer_key=vendor["client_id"], consumer_secret=vendor["client_secret"],
                      preauthorized_usernames=[box.store.username])
    return salesforce


@pytest.fixture
def sf_connection(sf, make_org, make_user, jwt_keys):
    owner = make_user()
    org = make_org(owner=owner, name="Adaeze Trading Ltd", tin="12345678-0001")
    connection = connection_connect_jwt(organization=org, username=sf.app.sandbox.store.username,
                                        private_key_pem=jwt_keys[0].decode())
    connection.owner = owner  # for dashboard checks
    return connection


@pytest.fixture
def seeded_won(sf):
    ids = sf.app.sandbox.seed(**SEED)
    return ids

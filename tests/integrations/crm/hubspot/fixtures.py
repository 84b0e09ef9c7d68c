"""HubSpot connector fixtures (registered for tests/integrations/crm by its conftest): the HubSpot sandbox on a real socket, settings
pointing at it, and a connected organization with real sandbox tokens."""
import json

import pytest

from integrations.connections.models import Connection
from taxpoynt import sandboxing


@pytest.fixture
def hubspot_sandbox(settings):
    """The sandbox on port 0, with its OAuth app using our client id/secret and
    settings.VENDORS["hubspot"]["base_url"] pointing at it."""
    vendor = settings.VENDORS["hubspot"]
    running = sandboxing.start("hubspot", port=0, client_id=vendor["client_id"],
                               client_secret=vendor["client_secret"], time_factor=0.001)
    settings.VENDORS = {**settings.VENDORS, "hubspot": {**vendor, "base_url": running.url}}
    yield running
    running.app.sandbox.webhooks.reset()
    running.app.sandbox.close()
    running.stop()


@pytest.fixture
def sandbox(hubspot_sandbox):
    return hubspot_sandbox.app.sandbox


@pytest.fixture
def hubspot_org(make_org, make_user):
    owner = make_user()
    org = make_org(owner=owner, name="Adaeze Trading Ltd", tin="12345678-0001")
    org.owner = owner
    return org


def connect(org, sandbox, **fields) -> Connection:
    """A connected HubSpot Connection holding real sandbox tokens; its field map
    reads the buyer's TIN from the portal's `tin` company property."""
    tokens = sandbox.issue_token()
    import datetime

    from django.utils import timezone

    return Connection.objects.create(
        organization=org, vendor="hubspot", kind="crm", status=Connection.Status.CONNECTED,
        external_account_id=str(sandbox.portal_id), display_name="sandbox portal",
        credentials=json.dumps({"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]}),
        token_expires_at=timezone.now() + datetime.timedelta(seconds=int(tokens["expires_in"])),
        trigger_rule={"won_stages": ["closedwon"], "lost_stages": ["closedlost"]},
        field_map=fields.pop("field_map", {"customer.tin": "company.tin"}), **fields)


@pytest.fixture
def hubspot_connection(hubspot_org, sandbox):
    return connect(hubspot_org, sandbox)

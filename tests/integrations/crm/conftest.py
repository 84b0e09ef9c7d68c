"""Fixtures for the CRM tests: the HubSpot sandbox and a connected merchant
(tests/integrations/crm/hubspot/fixtures.py), and the FIRS sandbox fixtures
(tests/invoicing/firs/plugin.py) for the end-to-end test."""
from tests.integrations.crm.hubspot.fixtures import (  # noqa: F401
    hubspot_connection, hubspot_org, hubspot_sandbox, sandbox)
from tests.invoicing.firs.plugin import firs_business, firs_sandbox, firs_sandbox_server, firs_test_keys  # noqa: F401

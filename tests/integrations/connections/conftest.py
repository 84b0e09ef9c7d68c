"""Connection tests run against the HubSpot provider and sandbox (the first
registered provider); its fixtures live in tests/integrations/crm/hubspot."""
from tests.integrations.crm.hubspot.fixtures import (  # noqa: F401
    hubspot_connection, hubspot_org, hubspot_sandbox, sandbox)

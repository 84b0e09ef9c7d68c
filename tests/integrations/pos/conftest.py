"""Fixtures for the POS tests: the Square wiring fixtures
(tests/integrations/pos/square/fixtures.py) and the FIRS sandbox fixtures
(tests/invoicing/firs/plugin.py) for the end-to-end and worker tests."""
from tests.integrations.pos.square.fixtures import (second_seller, sq, square_connection, square_org,  # noqa: F401
                                                     square_sandbox)
from tests.invoicing.firs.plugin import firs_business, firs_sandbox, firs_sandbox_server, firs_test_keys  # noqa: F401

"""The FIRS fixtures (see `plugin.py`) for the tests in this package.

Other packages: ``pytest_plugins = ["tests.invoicing.firs.plugin"]``, never
this conftest (pytest refuses a conftest registered twice)."""
from tests.invoicing.firs.plugin import (  # noqa: F401
    firs_business,
    firs_client,
    firs_sandbox,
    firs_sandbox_server,
    firs_test_keys,
    make_firs_client,
)

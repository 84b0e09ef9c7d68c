"""The database guards fire only where they can do something (the live POS
path, docs/performance.md "session 10"). Both functions are unchanged.

- The frozen-invoice guard (0003, columns as of 0004) fires for an UPDATE
  naming one of the content columns it compares (`UPDATE OF`) of a frozen
  row (`WHEN`, evaluated without calling PL/pgSQL). The copies of the FIRS
  state and the signing time onto a frozen invoice, five a sale, named none
  and still called it, which compared the 28 columns, the canonical invoice,
  UBL and FIRS JSON read out of TOAST twice each. A column an UPDATE does
  not name cannot change (no other BEFORE trigger edits the row), so
  nothing it refused before passes now.
- The FIRS-state copy (0005) is called for an UPDATE only when the state or
  the format changes: a rewrite of the same state (the freeze's payload
  write, a lease renewed with its step's write) copied nothing and cost a
  PL/pgSQL call and a lookup of the invoice. WHEN cannot read OLD in an
  INSERT trigger, so INSERT and UPDATE are two triggers now.
"""
import importlib

from django.db import migrations

from taxpoynt.db import PostgresRunSQL

# The columns the guard function compares, as 0004 last wrote it: an UPDATE
# naming none of them cannot change what it checks.
CONTENT_COLUMNS = importlib.import_module("invoicing.migrations.0004_firs_json_text").CONTENT_COLUMNS

FORWARD = f"""
DROP TRIGGER invoicing_invoice_frozen ON invoicing_invoice;
CREATE TRIGGER invoicing_invoice_frozen
    BEFORE UPDATE OF {", ".join(CONTENT_COLUMNS)} ON invoicing_invoice
    FOR EACH ROW WHEN (OLD.frozen_at IS NOT NULL)
    EXECUTE FUNCTION invoicing_refuse_frozen_invoice_update();

DROP TRIGGER invoicing_submission_firs_state ON invoicing_submission;
CREATE TRIGGER invoicing_submission_firs_state
    AFTER INSERT ON invoicing_submission
    FOR EACH ROW WHEN (NEW.format = 'firs') EXECUTE FUNCTION invoicing_copy_firs_state();
CREATE TRIGGER invoicing_submission_firs_state_change
    AFTER UPDATE OF state, format ON invoicing_submission
    FOR EACH ROW WHEN (NEW.format = 'firs' AND (OLD.state IS DISTINCT FROM NEW.state
                                                OR OLD.format IS DISTINCT FROM NEW.format))
    EXECUTE FUNCTION invoicing_copy_firs_state();
"""

BACKWARD = """
DROP TRIGGER invoicing_invoice_frozen ON invoicing_invoice;
CREATE TRIGGER invoicing_invoice_frozen
    BEFORE UPDATE ON invoicing_invoice
    FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_frozen_invoice_update();

DROP TRIGGER invoicing_submission_firs_state_change ON invoicing_submission;
DROP TRIGGER invoicing_submission_firs_state ON invoicing_submission;
CREATE TRIGGER invoicing_submission_firs_state
    AFTER INSERT OR UPDATE OF state, format ON invoicing_submission
    FOR EACH ROW WHEN (NEW.format = 'firs') EXECUTE FUNCTION invoicing_copy_firs_state();
"""


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0007_lz4_documents")]

    operations = [PostgresRunSQL(FORWARD, BACKWARD)]

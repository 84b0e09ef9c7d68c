"""Database-level immutability of frozen invoices, and the beat schedule of the
submission worker.

The trigger refuses any UPDATE that changes a content column of an invoice
whose `frozen_at` is set (raw `.update()`, SQL consoles, other services), and
any INSERT/UPDATE of a line of a frozen invoice. Line DELETEs are left to the
invoice's own cascade. The column list mirrors `Invoice.CONTENT_FIELDS`.
"""
from django.db import migrations

from taxpoynt.db import BeatEntry, PostgresRunSQL

CONTENT_COLUMNS = (
    "organization_id", "kind", "number", "irn", "issue_date", "due_date", "currency", "customer_name",
    "customer_tin", "line_extension_amount", "allowance_total_amount", "charge_total_amount",
    "tax_exclusive_amount", "tax_amount", "tax_inclusive_amount", "payable_amount", "source_figures",
    "tax_mismatch", "source_system", "source_type", "source_id", "original_invoice_id", "canonical",
    "ubl_xml", "firs_payload", "stamp", "credit_reason", "frozen_at",
)
_changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in CONTENT_COLUMNS)

FORWARD = f"""
CREATE OR REPLACE FUNCTION invoicing_refuse_frozen_invoice_update() RETURNS trigger AS $$
BEGIN
    IF OLD.frozen_at IS NOT NULL AND ({_changed}) THEN
        RAISE EXCEPTION 'invoice % is frozen: its content cannot change', OLD.number
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER invoicing_invoice_frozen
    BEFORE UPDATE ON invoicing_invoice
    FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_frozen_invoice_update();

CREATE OR REPLACE FUNCTION invoicing_refuse_frozen_line_change() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM invoicing_invoice WHERE id = NEW.invoice_id AND frozen_at IS NOT NULL)
       OR (TG_OP = 'UPDATE' AND EXISTS (
            SELECT 1 FROM invoicing_invoice WHERE id = OLD.invoice_id AND frozen_at IS NOT NULL)) THEN
        RAISE EXCEPTION 'the lines of a frozen invoice cannot change' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER invoicing_invoiceline_frozen
    BEFORE INSERT OR UPDATE ON invoicing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_frozen_line_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS invoicing_invoiceline_frozen ON invoicing_invoiceline;
DROP FUNCTION IF EXISTS invoicing_refuse_frozen_line_change();
DROP TRIGGER IF EXISTS invoicing_invoice_frozen ON invoicing_invoice;
DROP FUNCTION IF EXISTS invoicing_refuse_frozen_invoice_update();
"""

class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0002_pipeline_fields"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        PostgresRunSQL(FORWARD, BACKWARD),
        BeatEntry(name="invoicing: process due submissions", task="invoicing.tasks.process_due_submissions",
                  every_seconds=5, queue="crm"),
    ]

"""Invoice list performance (issue 9, docs/performance.md):

- `Invoice.firs_state`: the FIRS submission's state copied onto the invoice,
  filled here from the existing submissions, so `?firs_status=` is one index
  range (organization, firs_state, -created_at) instead of a nested loop over
  the organization's invoices.
- On PostgreSQL, a trigger copies `Submission.state` (format firs) to the
  invoice on every INSERT/UPDATE of the submission, in the same transaction:
  raw `.update(state=...)`s and bulk loads stay in sync too. Elsewhere (the
  SQLite demo, no trigger) `invoicing.submissions.transition` writes it.
- Indexes for users in several organizations (-created_at, organization) and
  issue-date ranges (organization, -issue_date, -created_at; it replaces
  inv_org_issue, whose (organization, issue_date) prefix it covers).
"""
from django.db import migrations, models
from django.db.models import Exists, OuterRef, Subquery

from taxpoynt.db import PostgresRunSQL

SYNC_TRIGGER = """
CREATE OR REPLACE FUNCTION invoicing_copy_firs_state() RETURNS trigger AS $$
BEGIN
    UPDATE invoicing_invoice SET firs_state = NEW.state
     WHERE id = NEW.invoice_id AND firs_state IS DISTINCT FROM NEW.state;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER invoicing_submission_firs_state
    AFTER INSERT OR UPDATE OF state, format ON invoicing_submission
    FOR EACH ROW WHEN (NEW.format = 'firs') EXECUTE FUNCTION invoicing_copy_firs_state();
"""

DROP_SYNC_TRIGGER = """
DROP TRIGGER IF EXISTS invoicing_submission_firs_state ON invoicing_submission;
DROP FUNCTION IF EXISTS invoicing_copy_firs_state();
"""


def fill_firs_state(apps, schema_editor):
    Invoice = apps.get_model("invoicing", "Invoice")
    Submission = apps.get_model("invoicing", "Submission")
    firs = Submission.objects.filter(invoice=OuterRef("pk"), format="firs")
    Invoice.objects.filter(Exists(firs)).update(firs_state=Subquery(firs.values("state")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0002_import_beat_rejected_exchanges'),
        ('invoicing', '0004_firs_json_text'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='invoice',
            name='inv_org_issue',
        ),
        migrations.AddField(
            model_name='invoice',
            name='firs_state',
            field=models.CharField(blank=True, default='', help_text='Copy of Submission(format=firs).state; empty without one.', max_length=12, verbose_name='FIRS state'),
        ),
        # Fill before the indexes exist: one pass without index maintenance.
        migrations.RunPython(fill_firs_state, migrations.RunPython.noop, elidable=True),
        PostgresRunSQL(SYNC_TRIGGER, DROP_SYNC_TRIGGER),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['-created_at', 'organization'], name='inv_created_org'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['organization', '-issue_date', '-created_at'], name='inv_org_issue_created'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['organization', 'firs_state', '-created_at'], name='inv_org_firs_created'),
        ),
    ]

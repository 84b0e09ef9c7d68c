"""Beat entry for crm.tasks.reconcile_lost_deals (editable in admin)."""
from django.db import migrations

from taxpoynt.db import BeatEntry


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_deal_credit_note"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [BeatEntry(name="crm: credit notes for deals lost while invoicing",
                            task="integrations.crm.tasks.reconcile_lost_deals", every_seconds=300)]

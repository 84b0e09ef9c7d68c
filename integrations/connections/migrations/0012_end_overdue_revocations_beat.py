"""Beat entry for `end_overdue_revocations` (every 15 minutes): pending
revocations whose retry task was lost are ended, their kept token erased."""
from django.db import migrations

from taxpoynt.db import BeatEntry


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0011_connection_revoke_pending_until"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [BeatEntry(name="connections: end overdue revocations",
                            task="integrations.connections.tasks.end_overdue_revocations",
                            every_seconds=15 * 60, queue="crm")]

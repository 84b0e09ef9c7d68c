"""Beat entry for `requeue_unclaimed_webhook_events` (every 5 minutes): stored
webhook events whose task was never published (broker down at that moment)."""
from django.db import migrations

from taxpoynt.db import BeatEntry


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0002_import_beat_rejected_exchanges"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [BeatEntry(name="connections: re-enqueue unclaimed webhook events",
                            task="integrations.connections.tasks.requeue_unclaimed_webhook_events",
                            every_seconds=5 * 60, queue="crm")]

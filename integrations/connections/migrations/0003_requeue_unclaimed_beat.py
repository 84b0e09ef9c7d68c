"""Beat entry for `requeue_unclaimed_webhook_events` (every 5 minutes): stored
webhook events whose task was never published (broker down at that moment)."""
from django.db import migrations

BEAT_TASK_NAME = "connections: re-enqueue unclaimed webhook events"
BEAT_EVERY_SECONDS = 5 * 60


def add_beat(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=BEAT_EVERY_SECONDS, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=BEAT_TASK_NAME,
        defaults={"task": "integrations.connections.tasks.requeue_unclaimed_webhook_events", "interval": every,
                  "queue": "crm", "enabled": True},
    )


def remove_beat(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=BEAT_TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0002_import_beat_rejected_exchanges"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_beat, remove_beat)]

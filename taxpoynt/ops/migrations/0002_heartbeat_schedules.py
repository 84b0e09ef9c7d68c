"""Beat schedules: one heartbeat per queue every minute (editable in admin)."""
import json

from django.db import migrations

QUEUES = ("pos_realtime", "crm", "batch", "sync")


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    for queue in QUEUES:
        PeriodicTask.objects.update_or_create(
            name=f"heartbeat:{queue}",
            defaults={"task": "taxpoynt.ops.tasks.heartbeat", "interval": every_minute,
                      "args": json.dumps([queue]), "queue": queue, "enabled": True},
        )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__startswith="heartbeat:").delete()


class Migration(migrations.Migration):
    dependencies = [("ops", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(create, remove)]

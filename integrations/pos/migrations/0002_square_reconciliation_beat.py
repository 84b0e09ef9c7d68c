"""Beat entry (django-celery-beat, editable in admin): Square's end-of-day
reconciliation at 01:00 Lagos time, on the `batch` queue (never in front of
live sales on pos_realtime)."""
from django.db import migrations

BEAT_TASK_NAME = "square: end-of-day reconciliation"


def add_beat(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(minute="0", hour="1", day_of_week="*", day_of_month="*",
                                                       month_of_year="*", timezone="Africa/Lagos")
    PeriodicTask.objects.update_or_create(
        name=BEAT_TASK_NAME,
        defaults={"task": "integrations.pos.square.tasks.batch_reconcile_day", "crontab": crontab,
                  "queue": "batch", "enabled": True})


def remove_beat(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=BEAT_TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pos", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_beat, remove_beat)]

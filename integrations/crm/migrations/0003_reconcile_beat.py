"""Beat entry for crm.tasks.reconcile_lost_deals (editable in admin)."""
from django.db import migrations

BEAT_TASK_NAME = "crm: credit notes for deals lost while invoicing"


def add_beat(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=300, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=BEAT_TASK_NAME, defaults={"task": "integrations.crm.tasks.reconcile_lost_deals", "interval": every,
                                       "enabled": True})


def remove_beat(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=BEAT_TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_deal_credit_note"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_beat, remove_beat)]

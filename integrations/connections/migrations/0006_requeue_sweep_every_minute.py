"""The webhook sweep (`requeue_unclaimed_webhook_events`) every minute instead
of every five: it now also hands over events whose claim ran out (a worker
that died holding them, services.EVENT_CLAIM_SECONDS = 60), and a sale should
not wait five minutes for that. Events never taken are still only handed over
after five minutes (their own cutoff)."""
from django.db import migrations

NAME = "connections: re-enqueue unclaimed webhook events"


def every(seconds):
    def apply(apps, schema_editor):
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).update(interval=schedule)
    return apply


class Migration(migrations.Migration):
    dependencies = [("connections", "0005_webhook_claim_lease")]

    operations = [migrations.RunPython(every(60), every(5 * 60))]

"""Beat entry (django-celery-beat, editable in admin): Square's end-of-day
reconciliation at 01:00 Lagos time, on the `batch` queue (never in front of
live sales on pos_realtime)."""
from django.db import migrations

from taxpoynt.db import BeatEntry


class Migration(migrations.Migration):
    dependencies = [
        ("pos", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [BeatEntry(name="square: end-of-day reconciliation",
                            task="integrations.pos.square.tasks.batch_reconcile_day", queue="batch",
                            crontab={"minute": "0", "hour": "1", "day_of_week": "*", "day_of_month": "*",
                                     "month_of_year": "*", "timezone": "Africa/Lagos"})]

"""Beat schedules: one heartbeat per queue every minute (editable in admin)."""
import json

from django.db import migrations

from taxpoynt.db import BeatEntry

QUEUES = ("pos_realtime", "crm", "batch", "sync")


class Migration(migrations.Migration):
    dependencies = [("ops", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [BeatEntry(name=f"heartbeat:{queue}", task="taxpoynt.ops.tasks.heartbeat", every_seconds=60,
                            queue=queue, args=json.dumps([queue])) for queue in QUEUES]

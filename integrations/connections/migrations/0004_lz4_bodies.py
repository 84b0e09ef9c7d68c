from django.db import migrations

from taxpoynt.db import Lz4Compression


class Migration(migrations.Migration):
    dependencies = [("connections", "0003_requeue_unclaimed_beat")]

    operations = [
        Lz4Compression(table="connections_vendorexchange", columns=["request_body", "response_body"]),
        Lz4Compression(table="connections_webhookevent", columns=["raw_body"]),
    ]

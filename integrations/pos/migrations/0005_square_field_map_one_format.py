"""Square field maps stored in the mapper's old private format
({"customer_tin": "<metadata key>", "customer_name": …}, which the
connection page could never write) rewritten in the one format every
provider uses (connections.rules): {"customer.tin": "metadata.<key>", …}."""
from django.db import migrations

OLD_KEYS = {"customer_tin": "customer.tin", "customer_name": "customer.name"}


def forwards(apps, schema_editor):
    Connection = apps.get_model("connections", "Connection")
    for connection in Connection.objects.filter(vendor="square").only("pk", "field_map"):
        old = connection.field_map or {}
        if not any(key in old for key in OLD_KEYS):
            continue
        new = {key: value for key, value in old.items() if key not in OLD_KEYS}
        for key, target in OLD_KEYS.items():
            if old.get(key):
                new.setdefault(target, f"metadata.{old[key]}")
        Connection.objects.filter(pk=connection.pk).update(field_map=new)


class Migration(migrations.Migration):
    dependencies = [
        ("pos", "0004_transaction_partly_refunded"),
        ("connections", "0009_webhook_backlog_scan_from_oldest"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

from django.db import migrations

from taxpoynt.db import Lz4Compression


class Migration(migrations.Migration):
    dependencies = [("pos", "0002_square_reconciliation_beat")]

    operations = [Lz4Compression(table="pos_transaction", columns=["raw"])]

from django.db import migrations

from taxpoynt.db import Lz4Compression


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0006_submission_source_received_at")]

    operations = [
        Lz4Compression(table="invoicing_invoice", columns=["canonical", "ubl_xml", "firs_json"]),
        Lz4Compression(table="invoicing_submission", columns=["signed_payload"]),
        Lz4Compression(table="invoicing_submissionattempt", columns=["request_body", "response_body"]),
    ]

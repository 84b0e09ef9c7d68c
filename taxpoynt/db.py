"""Database helpers shared by migrations."""
from django.db import migrations


class PostgresRunSQL(migrations.RunSQL):
    """RunSQL applied on PostgreSQL only. The zero-setup SQLite demo skips these
    database-level guards (triggers); the model layer enforces the same rules,
    and every behaviour is tested on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

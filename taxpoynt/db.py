"""Database helpers: migration operations, the few single-statement
writes of the hot paths (PostgreSQL: SKIP LOCKED, RETURNING, ON CONFLICT)
that the ORM would spread over several round trips, and how a new
PostgreSQL connection sends list parameters."""
from django.db import DEFAULT_DB_ALIAS, connection, connections, migrations


def current_connection():
    """The thread's database connection itself. `django.db.connection` is a
    proxy that finds it again at every attribute read (an asgiref Local
    lookup): handed to `get_db_prep_save` for every value of a batch of
    rows, those lookups were a quarter of the lockstep's writes."""
    return connections[DEFAULT_DB_ALIAS]


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


class BeatEntry(migrations.RunPython):
    """A django-celery-beat schedule row, created (or updated) by a migration
    and deleted when it is reversed; support edits it in admin afterwards.
    Give `every_seconds` or `crontab` (CrontabSchedule fields)."""

    def __init__(self, *, name: str, task: str, every_seconds: int | None = None, crontab: dict | None = None,
                 queue: str = "", args: str = "[]"):
        self.entry = {"name": name, "task": task, "every_seconds": every_seconds, "crontab": crontab,
                      "queue": queue, "args": args}
        super().__init__(self._create, self._delete)

    def deconstruct(self):
        return self.__class__.__qualname__, [], dict(self.entry)

    def _create(self, apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        defaults = {"task": self.entry["task"], "args": self.entry["args"], "enabled": True}
        if self.entry["queue"]:
            defaults["queue"] = self.entry["queue"]
        if self.entry["crontab"]:
            defaults["crontab"], _ = apps.get_model("django_celery_beat", "CrontabSchedule").objects.get_or_create(
                **self.entry["crontab"])
        else:
            defaults["interval"], _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(
                every=self.entry["every_seconds"], period="seconds")
        PeriodicTask.objects.update_or_create(name=self.entry["name"], defaults=defaults)

    def _delete(self, apps, schema_editor):
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=self.entry["name"]).delete()


def update_one_skip_locked(model, pk, *, set_sql: str, set_params: list, where_sql: str, where_params: list) -> bool:
    """Apply `set_sql` to row `pk` of `model` when it matches `where_sql` and
    no other transaction holds it (skipped, not waited for): one statement,
    `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`. True
    when the row was updated."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {set_sql} WHERE id = ("
            f"SELECT id FROM {table} WHERE id = %s AND {where_sql} FOR UPDATE SKIP LOCKED) RETURNING id",
            [*set_params, pk, *where_params])
        return cursor.fetchone() is not None


def rows_sql(types: list[str], count: int) -> str:
    """A table of `count` rows for a FROM clause, each value cast to its
    column's type (a foreign key's db_type is its target's); its parameters
    are `rows_params(rows)`. One row: `(VALUES (%s::t1, …))`. More:
    `unnest(%s::t1[], …)`, one array a column, a text the same for two rows
    or a hundred. Why both: a VALUES list's text grows with its rows, and
    psycopg parses a statement of more than 50 parameters anew on every
    execution (a backlog batch's writes spent ~8 % of the worker's CPU
    there) while PostgreSQL plans each new text anew; for one row, though,
    the arrays cost more than they save (the webhook intake's insert: 0.35
    against 0.26 ms of CPU and 1.0 against 0.7 ms of wall time, 1 500 each,
    three times; docs/performance.md)."""
    if count == 1:
        return "(VALUES (" + ", ".join(f"%s::{t}" for t in types) + "))"
    return "unnest(" + ", ".join(f"%s::{t}[]" for t in types) + ")"


def rows_params(rows: list[list]) -> list:
    """The parameters of `rows_sql(types, len(rows))` (`rows`: each a list of
    its column values)."""
    if len(rows) == 1:
        return list(rows[0])
    return [list(column) for column in zip(*rows)]


def update_rows(model, rows: dict, *, where_sql: str = "", where_params: list | tuple = ()) -> set:
    """Write each row's own values (`rows`: pk → {field name: value}, every
    row naming the same fields) in ONE statement, `UPDATE … FROM` the rows
    (`rows_sql`), to the rows that still match `where_sql` (columns as
    `o.<column>`). The pks written."""
    if not rows:
        return set()
    quote = connection.ops.quote_name
    names = list(next(iter(rows.values())))
    fields = [model._meta.pk] + [model._meta.get_field(name) for name in names]
    columns = [quote(f.column) for f in fields]
    db = current_connection()
    params = rows_params([[f.get_db_prep_save(value, db)
                           for f, value in zip(fields, [pk, *(values[n] for n in names)])]
                          for pk, values in rows.items()])
    pk = columns[0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} AS o SET {', '.join(f'{c} = v.{c}' for c in columns[1:])} "
            f"FROM {rows_sql([f.db_type(connection) for f in fields], len(rows))} AS v({', '.join(columns)}) "
            f"WHERE o.{pk} = v.{pk}" + (f" AND {where_sql}" if where_sql else "") + f" RETURNING o.{pk}",
            params + list(where_params))
        return {row[0] for row in cursor.fetchall()}


def insert_parts(model) -> tuple[str, list[str]]:
    """(quoted columns, their types for `rows_sql`) to INSERT rows of `model`
    with raw SQL; each row is an instance's `insert_values`."""
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    return ", ".join(quote(f.column) for f in fields), [f.db_type(connection) for f in fields]


def insert_values(instance) -> list:
    """`instance`'s row for `insert_parts`, each value prepared as
    Model.save() would (defaults, auto_now_add)."""
    db = current_connection()
    return [f.get_db_prep_save(f.pre_save(instance, True), db) for f in instance._meta.concrete_fields]


def mark_saved(instance):
    """After a raw INSERT of `instance`: the ORM treats it as a stored row."""
    instance._state.adding, instance._state.db = False, connection.alias


def send_lists_in_binary(*, sender, connection, **kwargs):
    """connection_created receiver: list parameters go to PostgreSQL in
    psycopg's binary array format. Its text format escapes every element
    with a regular expression in Python, and a page's bulk insert (Django
    sends each column of a bulk_create as one array, UNNEST) spent half its
    CPU there, most of it escaping the quotes of JSON documents (bench/
    pos_eod.py: bulk_create 0.73 -> 0.47 ms of CPU a sale)."""
    if connection.vendor != "postgresql":
        return
    from psycopg.types.array import ListBinaryDumper

    connection.connection.adapters.register_dumper(list, ListBinaryDumper)


class Lz4Compression(PostgresRunSQL):
    """Large values of these columns compressed with lz4 instead of
    PostgreSQL's default pglz: several times cheaper in CPU for the
    documents written once a sale (the order JSON, the canonical invoice,
    UBL, the FIRS payload, logged bodies), a little larger on disk. A server
    built without lz4 keeps pglz (the statement is skipped with a notice)."""

    def __init__(self, *, table: str, columns: list[str]):
        def alter(method):
            sets = ", ".join(f'ALTER COLUMN "{c}" SET COMPRESSION {method}' for c in columns)
            return (f'DO $$ BEGIN ALTER TABLE "{table}" {sets}; '
                    f"EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN "
                    f"RAISE NOTICE 'lz4 not available: {table} keeps pglz'; END $$;")

        self.table, self.columns = table, columns
        super().__init__(alter("lz4"), alter("pglz"))

    def deconstruct(self):
        return self.__class__.__qualname__, [], {"table": self.table, "columns": self.columns}

"""taxpoynt/db.py on PostgreSQL: the lz4-compressed document columns, and
list parameters sent in binary."""
import json
import uuid

import pytest
from django.db import connection

from integrations.connections.models import Connection
from integrations.connections.services import source_record_upsert
from integrations.pos.models import Transaction

pytestmark = pytest.mark.django_db

LZ4_COLUMNS = {
    ("connections_vendorexchange", "request_body"), ("connections_vendorexchange", "response_body"),
    ("connections_webhookevent", "raw_body"), ("invoicing_invoice", "canonical"), ("invoicing_invoice", "ubl_xml"),
    ("invoicing_invoice", "firs_json"), ("invoicing_submission", "signed_payload"),
    ("invoicing_submissionattempt", "request_body"), ("invoicing_submissionattempt", "response_body"),
    ("pos_transaction", "raw"),
}


def test_the_documents_written_once_a_sale_are_compressed_with_lz4(make_org):
    with connection.cursor() as cursor:
        cursor.execute("SELECT attrelid::regclass::text, attname FROM pg_attribute WHERE attcompression = 'l'")
        assert set(cursor.fetchall()) == LZ4_COLUMNS
    org = make_org()
    conn = Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                     external_account_id="ML-LZ4")
    order = {"line_items": [{"uid": f"li-{i}", "name": "Jollof rice", "note": "x" * 40} for i in range(200)]}
    row = source_record_upsert(Transaction, connection=conn, external_id="ORDER-LZ4", values={
        "organization_id": org.pk, "status": "completed", "occurred_at": "2026-12-04T10:00:00Z", "raw": order})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(raw) FROM pos_transaction WHERE id = %s", [row.pk])
        assert cursor.fetchone() == ("lz4",)
    assert Transaction.objects.get(pk=row.pk).raw == order


def test_list_parameters_travel_in_binary_and_mean_the_same():
    with connection.cursor() as cursor:
        ids = [uuid.uuid4(), uuid.uuid4()]
        cursor.execute("SELECT %s::uuid[], %s = ANY(%s), %s = ANY(%s), %s", [
            ids, "a", ["a", 'b"c'], "z", [], ['quote " and \\ backslash', None]])
        assert cursor.fetchone() == (ids, True, False, ['quote " and \\ backslash', None])
        # The adapter a new connection was given: binary, not psycopg's default text format.
        from psycopg.adapt import PyFormat

        dumper = connection.connection.adapters.get_dumper(list, PyFormat.AUTO)
        assert dumper.__name__ == "ListBinaryDumper"


def test_update_rows_writes_each_rows_own_values_in_one_statement_where_they_still_match(make_org):
    from django.test.utils import CaptureQueriesContext

    from taxpoynt.db import update_rows

    org = make_org()
    conns = [Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                       external_account_id=f"ML-{i}") for i in range(3)]
    Connection.objects.filter(pk=conns[2].pk).update(status="disconnected")
    rows = {c.pk: {"external_account_id": f"new-{i}", "settings": {"realtime": i % 2 == 0, "quote": "it's"}}
            for i, c in enumerate(conns)}
    with CaptureQueriesContext(connection) as queries:
        written = update_rows(Connection, rows, where_sql="o.status = %s", where_params=["connected"])
    assert len(queries) == 1 and written == {conns[0].pk, conns[1].pk}
    stored = {c.pk: (c.external_account_id, c.settings) for c in Connection.objects.filter(organization=org)}
    assert stored[conns[0].pk] == ("new-0", {"realtime": True, "quote": "it's"})
    assert stored[conns[1].pk] == ("new-1", {"realtime": False, "quote": "it's"})
    assert stored[conns[2].pk] == ("ML-2", conns[2].settings)  # no longer matched: untouched
    assert update_rows(Connection, {}) == set()


def test_rows_sql_is_one_statement_text_whatever_the_rows_and_keeps_every_type():
    import datetime
    from decimal import Decimal

    from psycopg.types.json import Jsonb

    from taxpoynt.db import columns_of, rows_sql

    sql = rows_sql(["uuid", "varchar(20)", "jsonb", "bytea", "numeric(18, 2)", "timestamp with time zone",
                    "integer"])
    assert "varchar[]" in sql and "numeric[]" in sql and sql.count("%s") == 7

    def rows(n):
        at = datetime.datetime(2026, 12, 6, 8, 30, tzinfo=datetime.timezone.utc)
        return [[uuid.uuid4(), f"it's {i}" if i % 3 else None, Jsonb({"n": i, "q": 'a "b"'}) if i % 2 else None,
                 bytes([i % 256]) * 3, Decimal(i) / 4, at + datetime.timedelta(seconds=i) if i % 4 else None,
                 i * 70_000] for i in range(n)]

    for n in (1, 120):  # 120 rows: 7 parameters, not 840 (psycopg re-parses over 50 each time)
        given = rows(n)
        params = columns_of(given)
        assert len(params) == 7
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            got = cursor.fetchall()
        assert [(r[0], r[1], r[3], r[4], r[5], r[6]) for r in got] == [
            (g[0], g[1], g[3], g[4], g[5], g[6]) for g in given]
        assert [json.loads(r[2]) if r[2] is not None else None for r in got] == [
            g[2].obj if g[2] is not None else None for g in given]
    with connection.cursor() as cursor:  # a column of NULLs only still has its type
        cursor.execute(rows_sql(["jsonb", "timestamp with time zone"]), columns_of([[None, None]] * 3))
        assert cursor.fetchall() == [(None, None)] * 3

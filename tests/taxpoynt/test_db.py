"""taxpoynt/db.py on PostgreSQL: the lz4-compressed document columns, and
list parameters sent in binary."""
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


def test_update_rows_has_one_statement_text_for_any_number_of_rows_and_keeps_nulls(make_org):
    from taxpoynt.db import update_rows

    org = make_org()
    conns = [Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                       external_account_id=f"ML-N-{i}") for i in range(60)]
    sent = []

    def record(execute, sql, params, many, context):
        sent.append((sql, len(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        for count in (1, 2, 60):
            rows = {c.pk: {"external_account_id": f"n-{i}", "last_synced_at": None if i % 2 else org.created_at}
                    for i, c in enumerate(conns[:count])}
            assert update_rows(Connection, rows) == set(rows)
    # One row: a VALUES row of three values. Two or sixty (180 values, past
    # psycopg's 50-parameter parse cache): the same text, one array a column.
    assert "VALUES" in sent[0][0] and sent[0][1] == 3
    assert len(sent) == 3 and sent[1] == sent[2] and sent[1][1] == 3 and "unnest(" in sent[1][0]
    stored = dict(Connection.objects.filter(organization=org).values_list("external_account_id", "last_synced_at"))
    assert len(stored) == 60 and stored["n-1"] is None and stored["n-0"] == org.created_at


# The tables a live sale writes. Each row version (an insert, or an update
# that is not HOT) adds an entry to every index of its table.
SALE_PATH_TABLES = ("connections_webhookevent", "pos_transaction", "invoicing_invoice", "invoicing_invoiceline",
                    "invoicing_submission", "invoicing_submissionattempt")


def test_no_index_of_a_sale_path_table_is_a_leading_part_of_another():
    """An index whose columns (and operator classes) lead another full
    index of the table serves no lookup the other does not (e.g. Django's
    own index on a foreign key that a composite index starts with): on
    these tables it only costs writes."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT a.indexrelid::regclass::text, b.indexrelid::regclass::text
            FROM pg_index a JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
            WHERE a.indrelid::regclass::text = ANY(%s)
              AND NOT a.indisunique AND a.indpred IS NULL AND a.indexprs IS NULL
              AND b.indpred IS NULL AND b.indexprs IS NULL
              AND a.indnkeyatts <= b.indnkeyatts
              AND (a.indkey::int2[])[0:a.indnkeyatts - 1] = (b.indkey::int2[])[0:a.indnkeyatts - 1]
              AND (a.indclass::oid[])[0:a.indnkeyatts - 1] = (b.indclass::oid[])[0:a.indnkeyatts - 1]
              AND (a.indoption::int2[])[0:a.indnkeyatts - 1] = (b.indoption::int2[])[0:a.indnkeyatts - 1]
            ORDER BY 1, 2""", [list(SALE_PATH_TABLES)])
        assert cursor.fetchall() == []
        # A credit note's original is indexed where set only: most rows (sales) have none.
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'inv_original'")
        assert cursor.fetchone()[0].endswith("(original_invoice_id) WHERE (original_invoice_id IS NOT NULL)")

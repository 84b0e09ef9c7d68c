"""Square order sync (integrations/pos/square/sync.py) through the generic
runner, against the sandbox: COMPLETED orders by updated_at, ≤ 10 locations a
query, the page checkpoint (Square cursor + the exact query) surviving a
stop, a 429 keeping the place, historical imports submitting on `batch` and
delta runs on `pos_realtime`, and a delta run visiting only what changed
(the first, only what changed since the connection)."""
import datetime as dt
import time

import pytest
from django.utils import timezone

from integrations.connections.http import RateLimited
from integrations.connections.models import Connection
from integrations.connections.sync import DELTA, HISTORICAL, sync_run
from integrations.pos.models import Location, Transaction
from integrations.pos.square.sync import SquareOrderSync
from invoicing.models import Submission

from .fixtures import vat_sale

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(SquareOrderSync, "page_limit", 10)


def test_historical_import_pages_checkpoints_and_resumes(sq, square_connection, small_pages):
    now = timezone.now()
    sq.seed_history(count=25, start=now - dt.timedelta(days=2), end=now - dt.timedelta(hours=1))
    sq.create_sale(order=vat_sale(), emit=False, complete=False)  # OPEN: never synced

    first = sync_run(connection_id=square_connection.pk, mode=HISTORICAL, max_pages=1)
    assert first.pages == 1 and not first.complete
    conn = Connection.objects.get(pk=square_connection.pk)
    state = conn.sync_checkpoint["state"]
    assert state["cursor"] and state["query"]["filter"]["state_filter"] == {"states": ["COMPLETED"]}
    assert state["query"]["sort"] == {"sort_field": "UPDATED_AT", "sort_order": "ASC"}
    assert Transaction.objects.count() == 10

    rest = sync_run(connection_id=square_connection.pk, mode=HISTORICAL)
    assert rest.complete
    conn.refresh_from_db()
    assert conn.sync_checkpoint == {} and conn.sync_cursor["updated_since"] and conn.import_finished_at
    assert Transaction.objects.count() == 25
    assert Transaction.objects.filter(invoice__isnull=False).count() == 25
    # An import's submissions never queue in front of live sales.
    assert set(Submission.objects.values_list("queue", flat=True)) == {"batch"}


def test_rate_limit_keeps_the_place(sq, square_connection, small_pages):
    now = timezone.now()
    sq.seed_history(count=15, start=now - dt.timedelta(days=1), end=now - dt.timedelta(hours=1))
    assert sync_run(connection_id=square_connection.pk, mode=HISTORICAL, max_pages=1).pages == 1
    sq.set_faults([{"path": "/v2/orders/search", "method": "POST", "status": 429, "count": 1}])
    with pytest.raises(RateLimited) as exc:
        sync_run(connection_id=square_connection.pk, mode=HISTORICAL)
    assert exc.value.retry_after >= 1
    conn = Connection.objects.get(pk=square_connection.pk)
    assert conn.sync_checkpoint["state"]["cursor"]  # the place is kept
    assert sync_run(connection_id=square_connection.pk, mode=HISTORICAL).complete
    assert Transaction.objects.count() == 15


def test_delta_reads_only_what_changed_and_invoices_on_pos_realtime(sq, square_connection):
    now = timezone.now()
    sq.seed_history(count=5, start=now - dt.timedelta(days=1), end=now - dt.timedelta(hours=1))
    # The first run starts at the connection: the sales before it are the
    # historical import's, never submitted unasked on pos_realtime.
    first = sync_run(connection_id=square_connection.pk, mode=DELTA)  # connected within the lag: nothing yet
    assert first.complete and first.records == 0
    time.sleep(SquareOrderSync.lag.total_seconds() + 0.1)
    first = sync_run(connection_id=square_connection.pk, mode=DELTA)
    assert first.complete and first.records == 0
    assert Transaction.objects.count() == 0 and not Submission.objects.exists()
    cursor = Connection.objects.get(pk=square_connection.pk).sync_cursor["updated_since"]
    time.sleep(0.05)
    sale = sq.create_sale(order=vat_sale(), emit=False)
    time.sleep(SquareOrderSync.lag.total_seconds() + 0.1)
    result = sync_run(connection_id=square_connection.pk, mode=DELTA)
    assert result.complete and result.records == 1
    txn = Transaction.objects.get(external_id=sale["order"]["id"])
    assert txn.invoice.submissions.get().queue == "pos_realtime"
    assert Connection.objects.get(pk=square_connection.pk).sync_cursor["updated_since"] > cursor


def test_more_than_ten_locations_are_queried_in_chunks(sq, square_connection, small_pages):
    sq.seed_locations(count=11)
    now = timezone.now()
    sq.seed_history(count=30, start=now - dt.timedelta(days=1), end=now - dt.timedelta(hours=1))
    assert sync_run(connection_id=square_connection.pk, mode=HISTORICAL).complete
    assert Location.objects.filter(connection=square_connection).count() == 13
    assert Transaction.objects.count() == 30

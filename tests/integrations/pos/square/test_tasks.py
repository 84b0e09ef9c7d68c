"""Square's tasks (integrations/pos/square/tasks.py): an event Square keeps
refusing is failed once its retries are spent (integrations.connections.
tasks.webhook_event_run), for support to replay, never left `received` where
no sweep takes it again; an end-of-day window Square rate-limits backs off."""
import pytest
from celery.exceptions import Retry

from integrations.connections import tasks as connection_tasks
from integrations.connections.models import WebhookEvent
from integrations.pos.square import tasks
from integrations.pos.square.client import RateLimited, SquareAuthError

from .fixtures import order_event, vat_sale
from .test_backlog import stored

pytestmark = pytest.mark.django_db


def _sale_event(sq, conn):
    order = sq.create_sale(order=vat_sale(), emit=False)["order"]
    # Not waited: its own run, one at a time (the path that retries).
    return order, stored(conn, order_event(merchant_id=conn.external_account_id, order=order, event_id=order["id"]),
                         waited=0)


def test_an_event_rate_limited_past_its_retries_fails_for_a_replay(sq, square_connection, monkeypatch):
    monkeypatch.setattr(connection_tasks, "RATE_LIMITED_RETRIES", 3)
    order, event = _sale_event(sq, square_connection)
    sq.set_faults([{"path": f"/v2/orders/{order['id']}", "method": "GET", "status": 429, "count": None}])
    for retries in range(3):  # each retry later, and later: Square names no wait
        with pytest.raises(Retry) as retry:
            tasks.process_webhook_event.apply(kwargs={"event_id": str(event.pk)}, retries=retries)
        assert retry.value.when == max(1, 2 ** retries)
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.RECEIVED
    with pytest.raises(RateLimited):
        tasks.process_webhook_event.apply(kwargs={"event_id": str(event.pk)}, retries=3)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and event.attempts == 4
    assert event.error.startswith("still rate limited after 3 retries")

    sq.set_faults([])  # Square answers again: support replays it
    event.status = WebhookEvent.Status.RECEIVED
    event.save(update_fields=["status"])
    assert tasks.process_webhook_event.apply(kwargs={"event_id": str(event.pk)}).get() == "processed"


def test_an_event_whose_token_square_keeps_refusing_fails_after_a_refresh(sq, square_connection):
    order, event = _sale_event(sq, square_connection)
    sq.set_faults([{"path": f"/v2/orders/{order['id']}", "method": "GET", "status": 401, "count": None}])
    spent = connection_tasks.AUTH_REFUSED_RETRIES
    for retries in range(spent):
        with pytest.raises(Retry):
            tasks.process_webhook_event.apply(kwargs={"event_id": str(event.pk)}, retries=retries)
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.RECEIVED
    with pytest.raises(SquareAuthError):
        tasks.process_webhook_event.apply(kwargs={"event_id": str(event.pk)}, retries=spent)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and event.attempts == spent + 1
    assert event.error.startswith("token refused after a refresh")


def test_an_end_of_day_window_square_rate_limits_backs_off_spread_then_gives_up(sq, square_connection):
    """A day's 96 windows meet Square's limit together: each retries later
    every time, spread (not all at once), and only after many tries fails."""
    from django.utils import timezone

    from integrations.pos.square import services

    start, end = services.reconcile_windows(day=timezone.localdate(), windows=1)[0]
    kwargs = {"connection_id": str(square_connection.pk), "start": start.isoformat(), "end": end.isoformat()}
    sq.set_faults([{"path": "/v2/orders/search", "method": "POST", "status": 429, "count": None}])
    waits = {}
    for retries in (0, 3, 10):
        waits[retries] = set()
        for _ in range(5):
            with pytest.raises(Retry) as retry:
                tasks.batch_reconcile_window.apply(kwargs=kwargs, retries=retries)
            waits[retries].add(retry.value.when)
    assert all(2.5 <= w <= 7.5 for w in waits[0]) and len(waits[0]) > 1  # spread
    assert all(20 <= w <= 60 for w in waits[3])
    assert all(450 <= w <= 1350 for w in waits[10])  # capped
    with pytest.raises(RateLimited):
        tasks.batch_reconcile_window.apply(kwargs=kwargs, retries=tasks.batch_reconcile_window.max_retries)

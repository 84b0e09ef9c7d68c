"""The Square part of `make demo` (taxpoynt.ops.demo.square_world) against a
live server and the Square sandbox: the merchant is connected through the
dashboard and Square's consent page, and the load generator's live sales
arrive as signed webhooks and are stored for the pos_realtime worker."""
import time

import pytest

from integrations.connections.models import Connection, WebhookEvent
from taxpoynt.ops.demo import square_world


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_square_world_connects_and_streams_live_sales(live_server, settings, square_sandbox, sq, make_user,
                                                      make_org):
    settings.PUBLIC_BASE_URL = live_server.url
    user = make_user(email="demo@taxpoynt.example.ng", password="demo-pass-123")
    make_org(owner=user, name="Demo Foods Ltd", email="billing@demo.example.ng")
    square_world(base_url=live_server.url, email="demo@taxpoynt.example.ng", password="demo-pass-123",
                 square_app=square_sandbox.app)
    try:
        conn = Connection.objects.get(vendor="square")
        assert conn.status in (Connection.Status.CONNECTED, Connection.Status.SYNCING)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not WebhookEvent.objects.filter(
                vendor="square", event_type="order.updated", connection=conn).exists():
            time.sleep(0.2)
        assert WebhookEvent.objects.filter(vendor="square", event_type="order.updated", connection=conn).exists()
    finally:
        sq.stop_load()

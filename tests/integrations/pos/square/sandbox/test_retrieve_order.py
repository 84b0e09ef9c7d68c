"""RetrieveOrder (GET /v2/orders/{id}) and BatchRetrieveOrders, the POS hot
path: served from JSON serialized under the lock, the same orders the
copy-then-serialize path gave."""
import datetime as dt
import json

HEADERS = {"Square-Version": "2026-09-16"}


def seeded(square, count=3):
    sandbox = square.app.sandbox
    end = dt.datetime.now(dt.timezone.utc)
    sandbox.seed_history(count=count, start=end - dt.timedelta(hours=1), end=end)
    return sandbox, list(sandbox.orders)


def test_retrieve_order_json_is_get_order_serialized(square):
    sandbox, ids = seeded(square)
    merchant_id = sandbox.default_merchant_id
    for order_id in ids:
        assert sandbox.retrieve_order_json(order_id, merchant_id) == json.dumps(
            {"order": sandbox.get_order(order_id, merchant_id)})
    other = sandbox.add_merchant(business_name="Other Ltd")["id"]
    assert sandbox.retrieve_order_json(ids[0], other) is None and sandbox.get_order(ids[0], other) is None
    assert sandbox.retrieve_order_json("nope", merchant_id) is None


def test_batch_retrieve_orders_json_keeps_the_order_asked_and_only_the_sellers(square):
    sandbox, ids = seeded(square)
    merchant_id = sandbox.default_merchant_id
    asked = [ids[2], "nope", ids[0]]
    assert json.loads(sandbox.batch_retrieve_orders_json(asked, merchant_id, None)) == {
        "orders": [sandbox.get_order(ids[2], merchant_id), sandbox.get_order(ids[0], merchant_id)]}
    location = sandbox.get_order(ids[1], merchant_id)["location_id"]
    assert [o["id"] for o in json.loads(sandbox.batch_retrieve_orders_json(ids, merchant_id, location))["orders"]] == [
        i for i in ids if sandbox.get_order(i, merchant_id)["location_id"] == location]
    assert sandbox.batch_retrieve_orders_json(
        ["nope"], merchant_id, "L-elsewhere") == sandbox.batch_retrieve_orders_json(ids, "M-other", None) == '{"orders": []}'

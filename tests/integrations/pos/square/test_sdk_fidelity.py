"""Square's official Python SDK (PyPI `squareup`) against our sandbox, with
only the base URL changed: if the sandbox's wire format drifted from
Square's, the SDK's own models and calls would break here."""
import pytest

square_sdk = pytest.importorskip("square")  # pinned in requirements.txt (# tests)
from square import Square  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "demo-square-client-id", "demo-square-client-secret"


def test_sdk_lists_locations_searches_orders_and_obtains_tokens(square):
    sb = square.app.sandbox
    for _ in range(7):
        sb.create_sale(random_sale=True)
    code = sb.create_code(client_id=CLIENT_ID, merchant_id=sb.default_merchant_id,
                          scopes=["ORDERS_READ", "MERCHANT_PROFILE_READ", "PAYMENTS_READ"])
    anonymous = Square(base_url=square.url, token="unused")  # ObtainToken needs no bearer
    tokens = anonymous.o_auth.obtain_token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                           grant_type="authorization_code", code=code)
    assert tokens.merchant_id == sb.default_merchant_id and tokens.token_type == "bearer"

    client = Square(base_url=square.url, token=tokens.access_token)
    locations = client.locations.list().locations
    assert sorted(x.id for x in locations) == sorted(sb.locations)
    assert locations[0].currency == "NGN" and locations[0].country == "NG"

    query = {"filter": {"state_filter": {"states": ["COMPLETED"]}},
             "sort": {"sort_field": "CREATED_AT", "sort_order": "ASC"}}
    page1 = client.orders.search(location_ids=[x.id for x in locations], query=query, limit=5)
    assert len(page1.orders) == 5 and page1.cursor
    page2 = client.orders.search(location_ids=[x.id for x in locations], query=query, limit=5, cursor=page1.cursor)
    assert len(page2.orders) == 2 and not page2.cursor
    order = page1.orders[0]
    assert order.state == "COMPLETED" and order.total_money.currency == "NGN"
    assert order.line_items[0].gross_sales_money.amount >= order.line_items[0].base_price_money.amount
    assert client.orders.get(order_id=order.id).order.id == order.id


def test_sdk_refreshes_to_a_short_lived_narrower_token(square):
    """ObtainToken's `scopes` and `short_lived` as the SDK sends them: the
    access token gets the intersection of scopes, lasts 24 h and comes alone."""
    sb = square.app.sandbox
    code = sb.create_code(client_id=CLIENT_ID, merchant_id=sb.default_merchant_id,
                          scopes=["ORDERS_READ", "MERCHANT_PROFILE_READ"])
    oauth = Square(base_url=square.url, token="unused").o_auth
    full = oauth.obtain_token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="authorization_code",
                              code=code)
    short = oauth.obtain_token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="refresh_token",
                               refresh_token=full.refresh_token, scopes=["ORDERS_READ", "PAYMENTS_READ"],
                               short_lived=True)
    assert short.short_lived is True and short.refresh_token is None
    status = Square(base_url=square.url, token=short.access_token).o_auth.retrieve_token_status()
    assert status.scopes == ["ORDERS_READ"]


def test_sdk_lists_offline_payments_by_the_time_they_were_taken(square):
    """ListPayments' offline parameters as the SDK sends them (a boolean as
    `true`), and the offline fields of a Payment as its model reads them."""
    import datetime as dt

    sb = square.app.sandbox
    main = sb.merchants[sb.default_merchant_id]["main_location_id"]
    now = dt.datetime.now(dt.timezone.utc)
    offline = [sb.create_sale(random_sale=True, location_id=main, offline_at=now - dt.timedelta(hours=h))["payment"]
               for h in (1, 3)]
    sb.create_sale(random_sale=True, location_id=main)
    token = sb.issue_token(client_id=CLIENT_ID)["access_token"]
    payments = list(Square(base_url=square.url, token=token).payments.list(
        is_offline_payment=True, offline_begin_time=(now - dt.timedelta(hours=4)).isoformat(),
        sort_field="OFFLINE_CREATED_AT", sort_order="ASC"))
    assert [p.id for p in payments] == [offline[1]["id"], offline[0]["id"]]
    assert payments[0].is_offline_payment is True
    assert payments[0].offline_payment_details.client_created_at == offline[1]["offline_payment_details"]["client_created_at"]

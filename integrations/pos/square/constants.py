"""Square protocol facts, kept as data in one place (VENDORS.md §4).

Everything the client, the webhook verifier, the mapper and the sandbox need to
agree on lives here. Facts that no source read for this project confirms are
marked UNCONFIRMED with the reading chosen; change them here only.
"""
from datetime import timedelta

import iso4217

# The API version this code was written against; sent on every request.
SQUARE_VERSION = "2026-09-16"

# Released Square API versions (Square-Version, YYYY-MM-DD, "the date the
# version was released": developer.squareup.com/docs/build-basics/versioning-overview).
# Read off the official SDK releases, whose version numbers carry the API
# version (PyPI squareconnect 2.YYYYMMDD.n up to 2019-07-24, squareup
# n.n.n.YYYYMMDD since 2019-08-14). UNCONFIRMED that every release had an SDK
# cut for it; add a version here when Square releases one.
SQUARE_API_VERSIONS = (
    "2018-07-12", "2018-09-18", "2018-12-05", "2018-12-12", "2019-02-13", "2019-03-13", "2019-03-27",
    "2019-04-10", "2019-05-08", "2019-06-12", "2019-07-10", "2019-07-24", "2019-08-14", "2019-09-25",
    "2019-10-23", "2019-11-20", "2019-12-17", "2020-01-22", "2020-02-26", "2020-03-25", "2020-04-22",
    "2020-05-28", "2020-06-25", "2020-07-22", "2020-08-12", "2020-08-26", "2020-09-23", "2020-10-28",
    "2020-11-18", "2020-12-16", "2021-01-21", "2021-02-26", "2021-03-17", "2021-04-21", "2021-05-13",
    "2021-06-16", "2021-07-21", "2021-08-18", "2021-09-15", "2021-10-20", "2021-11-17", "2021-12-15",
    "2022-01-20", "2022-02-16", "2022-03-16", "2022-04-20", "2022-05-12", "2022-06-16", "2022-07-20",
    "2022-08-17", "2022-08-23", "2022-09-21", "2022-10-19", "2022-11-16", "2022-12-14", "2023-01-19",
    "2023-03-15", "2023-04-19", "2023-05-17", "2023-06-08", "2023-07-20", "2023-08-16", "2023-09-25",
    "2023-10-18", "2023-11-15", "2023-12-13", "2024-01-18", "2024-02-22", "2024-03-20", "2024-04-17",
    "2024-05-15", "2024-06-04", "2024-07-17", "2024-08-21", "2024-09-19", "2024-10-17", "2024-11-20",
    "2024-12-18", "2025-01-23", "2025-02-20", "2025-03-19", "2025-04-16", "2025-05-21", "2025-06-18",
    "2025-07-16", "2025-08-20", "2025-09-24", "2025-10-16", "2026-01-22", "2026-05-20", "2026-07-15",
    "2026-08-19", "2026-09-16",
)
# The first version of each endpoint TaxPoynt uses that is younger than
# versioning itself (Square changelogs: 2019-05-08 SearchOrders; 2019-08-14
# the Payments and Refunds APIs and RetrieveLocation; 2020-08-26 the
# merchant-scoped BatchRetrieveOrders, POST /v2/orders/batch-retrieve (the
# location-scoped one, which TaxPoynt does not use, is older: square-ruby-sdk
# CHANGELOG "Version 6.3.0.20200826"); 2020-10-28 RetrieveOrder). The version
# "applies to all Square APIs" (build-basics/versioning-overview), OAuth's
# too: ObtainToken and RevokeToken came with the OAuth SDKs of 2018-07-12 and
# answer in every version. RetrieveTokenStatus is UNCONFIRMED: no changelog
# read names its release; it first appears in the SDKs cut for 2022-12-14
# (square-ruby-sdk 26.0.0.20221214, square-python-sdk 25.0.0.20221214), the
# reading chosen. Endpoints not listed answer in every version above.
ENDPOINT_FIRST_VERSIONS = {
    "SearchOrders": "2019-05-08",
    "RetrieveLocation": "2019-08-14",
    "ListPayments": "2019-08-14",
    "GetPayment": "2019-08-14",
    "RefundPayment": "2019-08-14",
    "ListPaymentRefunds": "2019-08-14",
    "GetPaymentRefund": "2019-08-14",
    "BatchRetrieveOrders": "2020-08-26",
    "RetrieveOrder": "2020-10-28",
    "RetrieveTokenStatus": "2022-12-14",
}
# ObtainToken's grant types by the first version that takes them, and the
# version from which it answers a refresh token with the access token: the
# OAuth changelog of 2019-03-13 ("ObtainToken now returns a refresh token
# along with an access token"; migration_token "for access tokens obtained
# using a Square API version prior to 2019-03-13", and "make sure your
# application is on 2019-03-13 or later" to migrate: oauth-api/migrate-to-
# refresh-tokens). An older version answers a 30-day access token alone (then
# renewed with RenewToken, retired 2024-04-17, which the sandbox lacks).
# UNCONFIRMED: the error for a grant an older version lacks; the reading is
# 400 API_VERSION_INCOMPATIBLE on `grant_type`, as for an endpoint.
OBTAIN_TOKEN_GRANT_FIRST_VERSIONS = {
    "authorization_code": "2018-07-12",
    "refresh_token": "2019-03-13",
    "migration_token": "2019-03-13",
}
REFRESH_TOKENS_FIRST_VERSION = "2019-03-13"
# A Square-Version that is not YYYY-MM-DD answers 400 INVALID_SQUARE_VERSION_FORMAT
# ("The provided Square-Version is incorrectly formatted"); one older than the
# endpoint answers API_VERSION_INCOMPATIBLE ("incompatible with the requested
# action"; ErrorCode, square-python-sdk). UNCONFIRMED: Square says only that
# "requesting an API version that does not exist returns an error"; a
# well-formed date that is not a release answers API_VERSION_INCOMPATIBLE too,
# both as 400 INVALID_REQUEST_ERROR. Every API response carries the
# Square-Version it was processed with (the application's pinned version
# when the request named none).

PRODUCTION_BASE_URL = "https://connect.squareup.com"
SANDBOX_BASE_URL = "https://connect.squareupsandbox.com"

# OAuth (oauth-api overview; ObtainToken reference).
SCOPES = ("ORDERS_READ", "PAYMENTS_READ", "MERCHANT_PROFILE_READ", "ITEMS_READ", "CUSTOMERS_READ")
DEFAULT_SCOPES = ("ORDERS_READ", "PAYMENTS_READ", "MERCHANT_PROFILE_READ")
AUTHORIZATION_CODE_TTL = timedelta(minutes=5)
ACCESS_TOKEN_TTL = timedelta(days=30)
# ObtainToken `short_lived: true`: an access token that expires in 24 hours
# and no refresh token (ObtainTokenResponse.short_lived; API Explorer: "returns
# only an access token").
SHORT_LIVED_ACCESS_TOKEN_TTL = timedelta(hours=24)
# Square advises refreshing at least every 7 days.
REFRESH_EVERY = timedelta(days=7)
# PKCE refresh tokens are single use and expire in 90 days, a refresh
# answering a new one; code-flow ones are multi-use, never expire and come
# back unchanged (ObtainTokenResponse.refresh_token in Square's API reference,
# developer.squareup.com/reference/square/objects/ObtainTokenResponse, and
# square-python-sdk src/square/types/obtain_token_response.py generated from it).
PKCE_REFRESH_TOKEN_TTL = timedelta(days=90)

# Orders search (SearchOrders reference; square-python-sdk SearchOrdersSort /
# SearchOrdersDateTimeFilter docstrings). VENDORS.md lists "the sort field must
# match the date filter field" as UNCONFIRMED; the SDK's SearchOrdersSort
# docstring states it ("Otherwise, SearchOrders throws an error").
SEARCH_MAX_LOCATIONS = 10
SEARCH_DEFAULT_LIMIT = 500
SEARCH_MAX_LIMIT = 1000
SORT_FIELDS = ("CREATED_AT", "UPDATED_AT", "CLOSED_AT")
ORDER_STATES = ("OPEN", "COMPLETED", "CANCELED", "DRAFT")
PAYMENTS_MAX_LIMIT = 100
# ListPayments and ListPaymentRefunds (GET /v2/payments, /v2/refunds; the
# query parameters of square-python-sdk payments/raw_client.py and
# refunds/raw_client.py): the fields each sorts by (ListPaymentsRequestSortField,
# ListPaymentRefundsRequestSortField) and the sort orders (ErrorCode
# INVALID_SORT_ORDER: "sort order must be ASC or DESC"). A value outside them
# answers 400 INVALID_ENUM_VALUE on sort_field, INVALID_SORT_ORDER on
# sort_order; `is_offline_payment` other than true/false answers
# EXPECTED_BOOLEAN. UNCONFIRMED: those codes are Square's ErrorCode values
# for the case; no page names the answer of these endpoints.
PAYMENTS_SORT_FIELDS = ("CREATED_AT", "UPDATED_AT", "OFFLINE_CREATED_AT")
REFUNDS_SORT_FIELDS = ("CREATED_AT", "UPDATED_AT")
SORT_ORDERS = ("ASC", "DESC")

# Rate limiting. UNCONFIRMED: Square publishes no numbers and sends no
# Retry-After; a 429 carries errors[{category RATE_LIMIT_ERROR, code RATE_LIMITED}].
RATE_LIMIT_CATEGORY = "RATE_LIMIT_ERROR"
RATE_LIMIT_CODE = "RATE_LIMITED"
# The back-off hint we use when a 429 carries no Retry-After header.
DEFAULT_RETRY_AFTER_SECONDS = 1.0

# Webhooks (webhooks step2subscribe / step3validate).
SIGNATURE_HEADER = "x-square-hmacsha256-signature"
LEGACY_SIGNATURE_HEADER = "x-square-signature"  # base64 HMAC-SHA1, legacy
EVENT_TYPES = (
    "order.created",
    "order.updated",
    "order.fulfillment.updated",
    "payment.created",
    "payment.updated",
    "refund.created",
    "refund.updated",
)
# data.object key holding the summary for order events; payment/refund events
# carry the full object under "payment" / "refund".
ORDER_EVENT_OBJECT_KEYS = {
    "order.created": "order_created",
    "order.updated": "order_updated",
    "order.fulfillment.updated": "order_fulfillment_updated",
}
# Square retries a failed delivery for up to 72 h after the event: after 1,
# 2, 4, 8, 16 and 32 minutes, then hourly (retries 7-78), then discards it
# (developer.squareup.com/docs/webhooks-api/delivery-sla; an older
# troubleshooting page says 24 h). The sandbox's sender keeps this schedule.
WEBHOOK_RETRY_WINDOW = timedelta(hours=72)
WEBHOOK_RETRY_DELAYS_SECONDS = (60, 120, 240, 480, 960, 1920) + (3600,) * 72
WEBHOOK_TIMEOUT_SECONDS = 10.0
# The metadata headers of a delivery (developer.squareup.com/docs/webhooks/step2subscribe):
# the environment and the first attempt's time on every one; on a retry, the
# retry's number (1 for the first retry) and why the previous attempt failed.
ENVIRONMENT_HEADER = "square-environment"  # Production | Sandbox
INITIAL_DELIVERY_HEADER = "square-initial-delivery-timestamp"  # RFC 3339
RETRY_NUMBER_HEADER = "square-retry-number"
RETRY_REASON_HEADER = "square-retry-reason"
RETRY_REASONS = ("http_timeout", "http_error", "ssl_error", "other_error")

# Pricing (Orders API "Order price adjustments"): Bankers' rounding.
# UNCONFIRMED readings the sandbox calculator and the mapper share:
# - discounts: the sequence is documented (item-level percentages, order-level
#   percentages, item-level amounts, order-level amounts: Orders API "Order
#   Discounts"; percentages compound, Square Support "Apply discounts"), the
#   rounding is not. Reading: the arithmetic is exact and each line's
#   discounted amount is rounded once, at the end, half to even; the
#   percentages take that rounding. It is the one reading that fits all three
#   totals of a Square forum order (developer.squareup.com/forums/t/16894,
#   915 JPY, 5 % service charge: 10 % off → 865; 10 % and 4 off → 820 and
#   861, discounts 91 and 4; 10 % and 5 off → 859), where rounding each
#   discount, or taking amounts before percentages, misses one;
# - ORDER-scoped amount discounts are apportioned over line items by their
#   amount after the discounts before them (largest remainder);
# - for Nigeria, as for Europe, inclusive tax stays inside gross_sales_money;
# - an additive tax on a line that also has inclusive taxes applies to the
#   amount net of the inclusive taxes;
# - several inclusive taxes on one line (VAT and a state consumption tax) are
#   taken out together: each is amount × p / (100 + Σ inclusive p), so the
#   line's net is amount × 100 / (100 + Σ inclusive p). (Several additive
#   ones are each added to the same amount, not compounded: confirmed by the
#   Orders API "Order Taxes" example, developer.squareup.com/docs/orders-api/taxes);
# - the order's total_money includes tips (tender amount_money includes the
#   tip, and the tenders add up to the order total).
INCLUSIVE_TAX_IN_GROSS_SALES = True
TOTAL_INCLUDES_TIPS = True

# Where a field map reads a buyer's details (connections.rules:
# {"customer.tin": "metadata.<key>"}): the order's `metadata`, the
# string map a Square order carries (Orders API; a seller's POS app or
# integration sets it). Square customer custom attributes would need the
# Customers API, which TaxPoynt does not request.
FIELD_MAP_SOURCE = "metadata"

# Square measurement units (OrderQuantityUnit.measurement_unit.*_unit) → UN/ECE
# Recommendation 20 unit codes; anything not listed (custom units, GENERIC_*
# volumes) is invoiced per piece, "EA".
UNIT_CODES = {
    "METRIC_MILLIGRAM": "MGM", "METRIC_GRAM": "GRM", "METRIC_KILOGRAM": "KGM",
    "IMPERIAL_WEIGHT_OUNCE": "ONZ", "IMPERIAL_POUND": "LBR", "IMPERIAL_STONE": "STI",
    "METRIC_MILLILITER": "MLT", "METRIC_LITER": "LTR",
    "IMPERIAL_CUBIC_INCH": "INQ", "IMPERIAL_CUBIC_FOOT": "FTQ", "IMPERIAL_CUBIC_YARD": "YDQ",
    "METRIC_MILLIMETER": "MMT", "METRIC_CENTIMETER": "CMT", "METRIC_METER": "MTR", "METRIC_KILOMETER": "KMT",
    "IMPERIAL_INCH": "INH", "IMPERIAL_FOOT": "FOT", "IMPERIAL_YARD": "YRD", "IMPERIAL_MILE": "SMI",
    "UNIT": "EA",
}

# Square tender type → UNCL4461 payment means code.
PAYMENT_MEANS_CODES = {
    "CARD": "48",
    "CASH": "10",
    "BANK_ACCOUNT": "30",
    "SQUARE_GIFT_CARD": "ZZZ",
    "WALLET": "ZZZ",
    "OTHER": "ZZZ",
}


def currency_exponent(currency: str) -> int:
    """ISO 4217 minor-unit exponent (NGN 2, JPY 0, BHD 3), from the iso4217 package."""
    try:
        exponent = iso4217.Currency(currency.upper()).exponent
    except ValueError:
        raise ValueError(f"Unknown ISO 4217 currency {currency!r}") from None
    if exponent is None:  # XAU and other non-monetary codes
        raise ValueError(f"Currency {currency!r} has no minor unit")
    return exponent

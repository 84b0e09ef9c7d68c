"""HubSpot facts the sandbox imitates, as data (one place).

Sources: HubSpot/hubspot-api-python (OpenAPI-generated models: field names,
paths, enums), HubSpot developer docs and changelogs (limits, headers, webhook
signing), and VENDORS.md §1. Items marked UNCONFIRMED were not found in any
source read; they are our most faithful reading and live only here.
"""
from decimal import Decimal

# CRM API versions served. HubSpot's date-based versions (developers.hubspot.com
# "api-reference/latest/overview"; 2026-09 GA 2026-09-08) each serve
# /crm/objects/{version}/…, /crm/associations/{version}/…,
# /crm/pipelines/{version}/…; another date answers 404 here (UNCONFIRMED: what
# HubSpot answers for a version it never released). The legacy semantic paths
# (/crm/v3/objects, /crm/v3/pipelines, /crm/v4/associations) are served too:
# HubSpot keeps them until 2027 (v4: 2027-03-30; v1–v3: September 2027) and
# hubspot-api-client 12.0.0, its newest Python SDK on PyPI, calls only them.
CRM_API_VERSIONS = ("2026-03", "2026-09")

# Object types served under /crm/objects/{version}/{type}; HubSpot also accepts
# the numeric object type id ("0-3") in the path.
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "line_items": "0-8"}
OBJECT_TYPES = tuple(OBJECT_TYPE_IDS)
# Singular names used in webhook subscriptionType ("deal.creation") and in
# v3 association type names ("deal_to_line_item").
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal", "line_items": "line_item"}
# First id handed out per type (HubSpot ids are large integers as strings).
ID_BASES = {"contacts": 51000000001, "companies": 21000000001, "deals": 11000000001, "line_items": 31000000001}

# Property name → type. Types drive search comparisons and PATCH validation.
# "calculated" / read-only properties cannot be written through the API.
PROPERTIES = {
    "deals": {
        "dealname": "string", "amount": "number", "deal_currency_code": "enumeration",
        "dealstage": "enumeration", "pipeline": "enumeration", "closedate": "datetime",
        "createdate": "datetime", "hs_lastmodifieddate": "datetime", "hs_object_id": "number",
        "description": "string", "hubspot_owner_id": "enumeration",
    },
    "line_items": {
        "name": "string", "quantity": "number", "price": "number", "amount": "number",
        "hs_product_id": "string", "hs_sku": "string", "description": "string",
        # Discount and tax property names: UNCONFIRMED beyond discount /
        # hs_discount_percentage (seen in SDK examples); kept small on purpose.
        "discount": "number", "hs_discount_percentage": "number", "hs_tax_rate": "number",
        "hs_tax_amount": "number", "hs_line_item_currency_code": "enumeration",
        "createdate": "datetime", "hs_lastmodifieddate": "datetime", "hs_object_id": "number",
    },
    "companies": {
        "name": "string", "domain": "string", "address": "string", "address2": "string",
        "city": "string", "state": "string", "zip": "string", "country": "string",
        "phone": "string", "tin": "string",  # `tin` is a portal custom property in our demo
        "createdate": "datetime", "hs_lastmodifieddate": "datetime", "hs_object_id": "number",
    },
    "contacts": {
        "firstname": "string", "lastname": "string", "email": "string", "phone": "string",
        "company": "string", "address": "string", "city": "string", "state": "string", "zip": "string",
        "country": "string", "createdate": "datetime", "lastmodifieddate": "datetime",
        "hs_lastmodifieddate": "datetime", "hs_object_id": "number",
    },
}
READ_ONLY = {"createdate", "hs_lastmodifieddate", "lastmodifieddate", "hs_object_id"}
CALCULATED = {"line_items": {"amount"}}
# Which property carries the "last modified" timestamp (contacts differ).
LAST_MODIFIED = {"deals": "hs_lastmodifieddate", "line_items": "hs_lastmodifieddate",
                 "companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate"}
# Properties returned when the caller asks for none (list, get, search).
DEFAULT_PROPERTIES = {
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage",
              "hs_lastmodifieddate", "hs_object_id", "pipeline"),
    "line_items": ("amount", "createdate", "hs_lastmodifieddate", "hs_object_id", "name", "price", "quantity"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
}
# Returned alongside explicitly requested properties.
ALWAYS_PROPERTIES = {
    "deals": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "line_items": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": ("createdate", "hs_object_id", "lastmodifieddate"),
}
CURRENCIES = ("NGN", "USD", "EUR", "GBP")

# Default deal pipeline (stage ids as in every new HubSpot portal; metadata
# values are strings in the API).
DEFAULT_PIPELINE = {
    "id": "default", "label": "Sales Pipeline", "displayOrder": 0,
    "stages": [
        ("appointmentscheduled", "Appointment Scheduled", "0.2", "false"),
        ("qualifiedtobuy", "Qualified To Buy", "0.4", "false"),
        ("presentationscheduled", "Presentation Scheduled", "0.6", "false"),
        ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", "false"),
        ("contractsent", "Contract Sent", "0.9", "false"),
        ("closedwon", "Closed Won", "1.0", "true"),
        ("closedlost", "Closed Lost", "0.0", "true"),
    ],
}

# HUBSPOT_DEFINED association type ids: (from, to) → (typeId, label, v3 name).
# Deal→company has a primary (5, label "Primary") and an unlabeled (341) type.
ASSOCIATION_TYPES = {
    ("deals", "contacts"): (3, None, "deal_to_contact"),
    ("contacts", "deals"): (4, None, "contact_to_deal"),
    ("deals", "companies"): (341, None, "deal_to_company_unlabeled"),
    ("companies", "deals"): (342, None, "company_to_deal_unlabeled"),
    ("deals", "line_items"): (19, None, "deal_to_line_item"),
    ("line_items", "deals"): (20, None, "line_item_to_deal"),
    ("contacts", "companies"): (279, None, "contact_to_company_unlabeled"),
    ("companies", "contacts"): (280, None, "company_to_contact_unlabeled"),
}
PRIMARY_ASSOCIATION_TYPES = {
    ("deals", "companies"): (5, "Primary", "deal_to_company"),
    ("companies", "deals"): (6, "Primary", "company_to_deal"),
    ("contacts", "companies"): (1, "Primary", "contact_to_company"),
    ("companies", "contacts"): (2, "Primary", "company_to_contact"),
}
# Webhook associationType names for deal.associationChange (UNCONFIRMED
# beyond the DEAL_TO_* pattern seen in HubSpot's webhook docs).
WEBHOOK_ASSOCIATION_TYPE = {
    "contacts": "DEAL_TO_CONTACT", "companies": "DEAL_TO_COMPANY", "line_items": "DEAL_TO_LINE_ITEM",
}

# OAuth scopes. A read needs one of `read`/`write` for the type; PATCH needs
# `write`. Line items also accept the legacy `e-commerce` scope. Scope names
# are UNCONFIRMED (VENDORS.md §1.1).
def required_scopes(object_type: str, *, write: bool) -> set[str]:
    base = f"crm.objects.{object_type}"
    scopes = {f"{base}.write"} if write else {f"{base}.read", f"{base}.write"}
    if object_type == "line_items":
        scopes.add("e-commerce")
    return scopes


# OAuth API 2026-03 (developers.hubspot.com: "Manage OAuth tokens", the v1 migration guide, the changelogs
# "v1 OAuth API Deprecation" and "New OAuth v3 API Endpoints and Standardized Error Responses"). Each
# endpoint is a form-encoded POST with client_id and client_secret in the body; a parameter sent in the
# query is not read. The interim v3 paths are the same operations (HubSpot's OpenAPI operation ids name
# both, e.g. "post-/oauth/2026-09/token_/oauth/v3/token"). The v1 endpoints (sunset 2027-02-16) are not
# served: a call to one answers 404, as after the sunset.
OAUTH_VERSIONS = ("2026-03", "v3")
OAUTH_TOKEN_PATH = "/oauth/{version}/token"
OAUTH_INTROSPECT_PATH = "/oauth/{version}/token/introspect"
OAUTH_REVOKE_PATH = "/oauth/{version}/token/revoke"
# The token response: v1's fields plus hub_id and scopes (changelog "Additional details returned when
# generating OAuth access tokens"); token_use and user_id from the 2026 OpenAPI schema (AccessTokenResponse).
# Introspection answers the fields of PublicAccessTokenInfoResponse / PublicRefreshTokenInfoResponse
# (token_use "access_token" / "refresh_token"). UNCONFIRMED: the values inside signed_access_token
# (its keys are the schema's; signature and scope strings are the sandbox's own), and token_type "bearer"
# in introspection answers (v1's docs: "Typically bearer").
# Errors (status 400): RFC 6749 `error`, `error_description` plus the legacy `status`, `message` (the
# changelog's example: invalid_grant / BAD_REFRESH_TOKEN "refresh token is invalid, expired or revoked").
# legacy status → (error, message). Only that pair is documented; the others pair v1's documented or
# UNCONFIRMED statuses with RFC 6749's (RFC 7009's unsupported_token_type) codes: UNCONFIRMED.
OAUTH_ERRORS = {
    "BAD_CLIENT_ID": ("invalid_client", "missing or invalid client id"),
    "BAD_CLIENT_SECRET": ("invalid_client", "missing or invalid client secret"),
    "BAD_AUTH_CODE": ("invalid_grant", "missing or unknown auth code"),
    "BAD_REDIRECT_URI": ("invalid_grant", "redirect_uri does not match initial auth code URL"),
    "BAD_REFRESH_TOKEN": ("invalid_grant", "refresh token is invalid, expired or revoked"),
    "BAD_GRANT_TYPE": ("unsupported_grant_type", "grant_type must be authorization_code or refresh_token"),
    "BAD_TOKEN": ("invalid_request", "missing token"),
    "BAD_TOKEN_TYPE": ("unsupported_token_type", "only refresh tokens can be revoked"),
}
# Introspecting an unknown, expired or revoked token (or another app's) answers 200 {"active": false}
# (RFC 7662 §2.2); revoking an unknown or already revoked refresh token answers 200 with no body, as a
# revocation does (RFC 7009 §2.2); revoking an access token answers unsupported_token_type (HubSpot:
# "Deletes/Revokes provided Refresh Token"). All three UNCONFIRMED: HubSpot's reference shows only the
# active introspection answer and the error body.

# Limits.
ACCESS_TOKEN_TTL = 1800            # seconds (expires_in)
AUTH_CODE_TTL = 300                # seconds; single use
TEN_SECONDLY_LIMIT = 100           # OAuth app, per portal, rolling 10 s
SEARCH_PER_SECOND = 4              # search endpoints, per token
DAILY_LIMIT = 250_000              # private apps only; OAuth calls have no daily limit
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 10, 100
BATCH_READ_MAX = 100
# Associations batch read: at most 1000 inputs (changelog "bug-fix-batch-read-
# limit-for-hubspot-associations-api"); each input's `to` list is paged, the
# result carrying paging.next.after while that id has more. Page size
# UNCONFIRMED (undocumented; v3 paged at 500, one reader saw 600+ in one answer):
# 500 here, changed with Sandbox.set_association_page_size.
ASSOCIATIONS_BATCH_INPUTS_MAX = 1000
ASSOCIATIONS_PAGE_SIZE = 500
SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX = 10, 200   # max 200: UNCONFIRMED (VENDORS.md)
SEARCH_RESULT_CAP = 10_000         # `after` may not reach past this (UNCONFIRMED wording)
SEARCH_MAX_GROUPS, SEARCH_MAX_FILTERS, SEARCH_MAX_FILTERS_PER_GROUP = 5, 25, 10
SEARCH_OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
                    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")

# Error texts. The 401 text and 429 body fields are as HubSpot documents them;
# the search-limit messages are UNCONFIRMED wording in HubSpot's error shape.
MSG_NO_AUTH = ("Authentication credentials not found. This API supports OAuth 2.0 authentication "
               "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
MSG_EXPIRED = "The OAuth token used to make this call expired {ago} ago."
MSG_SCOPES = ("This app hasn't been granted all required scopes to make this call. "
              "Read more about required scopes here: https://developers.hubspot.com/scopes.")
MSG_TEN_SECONDLY = "You have reached your ten_secondly_rolling limit."
MSG_SECONDLY = "You have reached your secondly limit."

# Webhooks: retries (HubSpot: up to 10, exponential, spread over ~24 h) and
# the statuses that are final (never retried).
WEBHOOK_MAX_RETRIES = 10
WEBHOOK_BACKOFF_BASE = 60.0        # seconds: 1, 2, 4 … 512 min ≈ 17 h in all
WEBHOOK_TIMEOUT = 5.0              # HubSpot treats >5 s as a timeout
WEBHOOK_NO_RETRY_STATUSES = frozenset({400, 401, 403, 404, 405})
WEBHOOK_MAX_BATCH = 100
WEBHOOK_USER_AGENT = "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nonprod)"
DEFAULT_SUBSCRIPTIONS = (
    {"eventType": "deal.creation"},
    {"eventType": "deal.deletion"},
    {"eventType": "deal.associationChange"},
    {"eventType": "deal.propertyChange", "propertyName": "dealstage"},
    {"eventType": "deal.propertyChange", "propertyName": "amount"},
)
# v3 signatures are computed over the URI with these escapes decoded (HubSpot
# "Validating requests").
V3_URI_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
                 "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}

ZERO = Decimal("0")

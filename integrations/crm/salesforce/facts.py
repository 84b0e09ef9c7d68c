"""Salesforce protocol facts, kept as data in one place (VENDORS.md §2).

Everything here is read by the client, the JWT builder, the outbound-message
parser and the sandbox, so a fact is changed once. Facts marked UNCONFIRMED
were not verified in any source read for this project; each is the most
faithful reading of the documentation we had.
"""

API_VERSION = "60.0"

# Login hosts: production orgs, sandbox orgs. A My Domain host also works.
LOGIN_URL_PRODUCTION = "https://login.salesforce.com"
LOGIN_URL_SANDBOX_ORG = "https://test.salesforce.com"
STANDARD_AUDIENCES = (LOGIN_URL_PRODUCTION, LOGIN_URL_SANDBOX_ORG)

AUTHORIZE_PATH = "/services/oauth2/authorize"
TOKEN_PATH = "/services/oauth2/token"
REVOKE_PATH = "/services/oauth2/revoke"

JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# "A few minutes ahead"; 3 minutes is the usual reading (UNCONFIRMED).
JWT_LIFETIME_SECONDS = 180
# The sandbox refuses assertions whose exp is further out than this (UNCONFIRMED:
# Salesforce documents only that exp must be "within 3 minutes"-ish; 5 min allows skew).
JWT_MAX_LIFETIME_SECONDS = 300

# `api` for REST; `refresh_token` (alias `offline_access`) to receive a refresh token.
DEFAULT_SCOPES = ("api", "refresh_token")
REFRESH_SCOPES = ("refresh_token", "offline_access", "full")

# Errors (REST: JSON array of {message, errorCode, fields}; OAuth: {error, error_description}).
INVALID_SESSION_ID = "INVALID_SESSION_ID"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
INVALID_GRANT = "invalid_grant"

# `Sforce-Limit-Info: api-usage=N/Max` on every REST response (header form UNCONFIRMED).
LIMIT_INFO_HEADER = "Sforce-Limit-Info"

# Query batches hold up to 2,000 records (REST "Query"); nextRecordsUrl links them.
QUERY_BATCH_MAX = 2000

# Opportunity stage that closes a deal as won in a default org.
DEFAULT_WON_STAGE = "Closed Won"

# Outbound Messaging (SOAP 1.1, document/literal; "Understanding Notifications").
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
ENTERPRISE_NS = "urn:enterprise.soap.sforce.com"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OUTBOUND_MAX_NOTIFICATIONS = 100
OUTBOUND_TIMEOUT_SECONDS = 60
# Retries back off to at most 2 h apart and stop after 24 h.
OUTBOUND_RETRY_WINDOW_SECONDS = 24 * 3600
OUTBOUND_MAX_RETRY_INTERVAL_SECONDS = 2 * 3600

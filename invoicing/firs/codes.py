"""FIRS protocol facts as data: base URLs, endpoint paths, fixed messages,
code lists. The client, the sandbox and the tests read them from here, so a
fact corrected upstream is corrected in one place.

Sources are the ones named in /work/shared/FIRS.md. Facts marked UNCONFIRMED
are our most faithful reading of incomplete or conflicting sources:

- UNCONFIRMED: the production base URL (`PRODUCTION_BASE_URL` is None on
  purpose: deployments must set FIRS_BASE_URL; TaxPoynt's old guesses
  `api.firs.gov.ng` / `einvoice.firs.gov.ng` are not used).
- UNCONFIRMED: the stamp padding. FIRS's guide uses `openssl pkeyutl -encrypt`
  whose default is RSA PKCS#1 v1.5, and the public Python signer does the same
  (`STAMP_PADDING`).
- UNCONFIRMED: the webhook message list (`WEBHOOK_MESSAGES`), taken from a
  public NestJS client.
- UNCONFIRMED: the tax category list. `resources/tax-categories` is the
  authority; ours is the union of the ids in FIRS.md §5 and a public
  integrator's copy of the endpoint's answer.
- UNCONFIRMED: `error.errors` on validation failures (our sandbox adds it; the
  real sandbox may not), the 404 body for an unknown IRN, and the
  payment-means list (UNCL4461 codes integrators report; not in the recorded
  documentation). The invoice types, currencies, VAT exemptions and service
  codes are FIRS's recorded answers (files in `resources/`), as of the
  documentation's capture: the live endpoints remain the authority.
- UNCONFIRMED: a maximum IRN length (none enforced) and whether the IRN date
  must equal issue_date (enforced, as FIRS.md §1 asks).
- UNCONFIRMED: `invoice_kind` (B2B, B2G, B2C; seen in newer payloads) and what
  it relaxes. FIRS.md §4 calls the parties' `tin` and `email` "now mandatory",
  while §6 says B2C sales are reported, not cleared, and a walk-in buyer has
  neither. Our reading, kept here and applied by the payload builder and the
  sandbox alike: every payload states its `invoice_kind`; the supplier always
  needs TIN and email, the customer of a B2B/B2G document too, and the
  customer of a B2C document may omit both (they are checked when given).
"""
import functools
import json
from decimal import Decimal
from pathlib import Path

import pycountry

# FIRS's own answers to GET /invoice/resources/{name}, recorded from the live
# sandbox in FIRS's documentation ([MBS]); one JSON file per resource.
RESOURCES_DIR = Path(__file__).with_name("resources")
RECORDED_RESOURCES = ("invoice-types", "currencies", "vat-exemptions", "services-codes")


@functools.cache
def _recorded(name: str) -> list[dict]:
    return json.loads((RESOURCES_DIR / f"{name}.json").read_text(encoding="utf-8"))

SANDBOX_BASE_URL = "https://eivc-k6z6d.ondigitalocean.app"
PRODUCTION_BASE_URL = None  # UNCONFIRMED: set FIRS_BASE_URL explicitly.

INVOICE_KINDS = ("B2B", "B2G", "B2C")  # UNCONFIRMED, see the module docstring
# Parties whose TIN and email may be omitted, per invoice kind.
PARTIES_WITHOUT_TIN = {"B2C": ("accounting_customer_party",)}

API_PREFIX = "/api/v1"
HEALTH_PATH = "/api"  # outside the prefix, no auth

API_KEY_HEADER = "x-api-key"
API_SECRET_HEADER = "x-api-secret"

# endpoint name → (HTTP method, path under API_PREFIX). The names are also the
# `endpoint` label of the latency histogram and the sandbox's fault keys.
ENDPOINTS = {
    "entity_search": ("GET", "/entity"),
    "entity": ("GET", "/entity/{entity_id}"),
    "irn_validate": ("POST", "/invoice/irn/validate"),
    "validate": ("POST", "/invoice/validate"),
    "sign": ("POST", "/invoice/sign"),
    "party_create": ("POST", "/invoice/party"),
    "party_list": ("GET", "/invoice/party/{business_id}"),
    "confirm": ("GET", "/invoice/confirm/{irn}"),
    "download": ("GET", "/invoice/download/{irn}"),
    "search": ("GET", "/invoice/{business_id}"),
    "update": ("PATCH", "/invoice/update/{irn}"),
    "lookup": ("GET", "/invoice/transmit/lookup/{irn}"),
    "lookup_tin": ("GET", "/invoice/transmit/lookup/tin/{tin}"),
    "lookup_party": ("GET", "/invoice/transmit/lookup/party/{party_id}"),
    "transmit": ("POST", "/invoice/transmit/{irn}"),
    "transmit_confirm": ("PATCH", "/invoice/transmit/{irn}"),
    "pull": ("GET", "/invoice/transmit/pull"),
    "self_health_check": ("GET", "/invoice/transmit/self-health-check"),
    "verify_tin": ("POST", "/utilities/verify-tin/"),
    "authenticate": ("POST", "/utilities/authenticate"),
    "resources": ("GET", "/invoice/resources/{resource}"),
}
OPEN_ENDPOINTS = frozenset({"health", "resources"})  # no x-api-key needed

RESOURCE_NAMES = (
    "countries",
    "invoice-types",
    "currencies",
    "vat-exemptions",
    "services-codes",
    "tax-categories",
    "payment-means",
)

# --- envelopes and fixed messages (FIRS.md §3, §7) ---------------------------
ERROR_MESSAGE = "error has occurred"
VALIDATION_PUBLIC_MESSAGE = (
    "validation failed: we are unable to process your request. also confirm this is not a duplicate request"
)
AUTH_PUBLIC_MESSAGE = "unable to validate api key"
AUTH_HANDLER = "handler"
DUPLICATE_HANDLER = "invoice_actions"
DUPLICATE_DETAILS = "unable to complete this operation at this time, kindly try again later"
NO_ROUTE_MESSAGE = "no route found for this path. kindly check your request and try again"
# Prefix of the lower-case dotted field paths in validation `details`.
FIELD_PATH_ROOT = "invoicerequest"

# --- stamp (FIRS.md §2) ---------------------------------------------------------
STAMP_PADDING = "PKCS1v15"  # UNCONFIRMED (see module docstring)
STAMP_JSON_SEPARATORS = (",", ":")  # the guide shows compact JSON

# --- invoice facts (FIRS.md §4, §5) ----------------------------------------------
PAYMENT_STATUSES = ("PENDING", "PAID", "REJECTED")
DEFAULT_PAYMENT_STATUS = "PENDING"
WEBHOOK_MESSAGES = ("TRANSMITTING", "TRANSMITTED", "ACKNOWLEDGED", "FAILED")  # UNCONFIRMED
MIN_TIN_LENGTH = 5

# FIRS's own list (recorded from the live resources/invoice-types): NOT
# UNTDID 1001 — 380 is the Credit Note and 381 the Commercial Invoice [COM d/167].
INVOICE_TYPES = {row["code"]: row["value"] for row in _recorded("invoice-types")}
CREDIT_NOTE_TYPE = "380"
COMMERCIAL_INVOICE_TYPE = "381"
DEBIT_NOTE_TYPE = "384"

# id → (name, percent or None when the rate is not fixed). UNCONFIRMED list.
TAX_CATEGORIES = {
    "STANDARD_VAT": ("Standard Value-Added Tax", Decimal("7.5")),
    "REDUCED_VAT": ("Reduced Value-Added Tax", None),
    "ZERO_VAT": ("Zero Value-Added Tax", Decimal("0")),
    "EXEMPTED": ("Exempted", Decimal("0")),
    "EXEMPT": ("Exempt", Decimal("0")),
    "STAMP_DUTY": ("Stamp Duty", None),
    "STANDARD_GST": ("Standard Goods and Services Tax", None),
    "REDUCED_GST": ("Reduced Goods and Services Tax", None),
    "ZERO_GST": ("Zero Goods and Services Tax", Decimal("0")),
    "STATE_SALES_TAX": ("State Sales Tax", None),
    "LOCAL_SALES_TAX": ("Local Sales Tax", None),
    "IMPORT_DUTY": ("Import Duty", None),
    "EXPORT_DUTY": ("Export Duty", None),
    "SERVICE_TAX": ("Service Tax", None),
}

# UNCL4461 payment means codes (the subset integrators report from
# resources/payment-means).
PAYMENT_MEANS = {
    "10": "In cash",
    "20": "Cheque",
    "30": "Credit transfer",
    "31": "Debit transfer",
    "42": "Payment to bank account",
    "43": "Bank giro",
    "48": "Bank card",
    "49": "Direct debit",
    "50": "Payment by postgiro",
    "58": "SEPA credit transfer",
    "59": "SEPA direct debit",
    "97": "Clearing between partners",
    "ZZZ": "Mutually defined",
}

# Recorded FIRS lists: currencies (FIRS's 118, not ISO 4217's current set: it
# keeps e.g. EEK and lacks others), VAT exemptions keyed by HS code, service
# codes (ISIC rev.4 classes).
CURRENCIES = {row["code"]: row["name"] for row in _recorded("currencies")}
VAT_EXEMPT_HS_CODES = frozenset(row["harmonized_system_code"] for row in _recorded("vat-exemptions"))
SERVICE_CODES = {row["code"]: row["description"] for row in _recorded("services-codes")}

# Countries: FIRS's recorded list is exactly ISO 3166-1's 249 alpha-2 codes, so
# the maintained pycountry table stands in for it.
COUNTRIES = {c.alpha_2: c.name for c in pycountry.countries}


def resource(name: str) -> list[dict]:
    """The body of `GET /invoice/resources/{name}` as our sandbox serves it."""
    if name == "tax-categories":
        return [
            {"code": code, "value": value, "percent": "N/A" if percent is None else str(percent)}
            for code, (value, percent) in TAX_CATEGORIES.items()
        ]
    if name == "payment-means":
        return [{"code": code, "value": value} for code, value in PAYMENT_MEANS.items()]
    if name in RECORDED_RESOURCES:
        return _recorded(name)
    if name == "countries":
        return [
            {"name": c.name, "alpha_2": c.alpha_2, "alpha_3": c.alpha_3, "country_code": c.numeric,
             "iso_3166_2": f"ISO 3166-2:{c.alpha_2}"}
            for c in sorted(pycountry.countries, key=lambda c: c.name)
        ]
    raise KeyError(name)

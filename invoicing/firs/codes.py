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
  real sandbox may not), the 404 body for an unknown IRN, and the shapes of the
  countries / currencies / vat-exemptions / services-codes resources (ours
  carry the fields we know; the vat-exemption and service-code lists are
  small samples, not FIRS's full tables).
- UNCONFIRMED: a maximum IRN length (none enforced) and whether the IRN date
  must equal issue_date (enforced, as FIRS.md §1 asks).
"""
from decimal import Decimal

import pycountry

SANDBOX_BASE_URL = "https://eivc-k6z6d.ondigitalocean.app"
PRODUCTION_BASE_URL = None  # UNCONFIRMED: set FIRS_BASE_URL explicitly.

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

# FIRS's own list (live resources/invoice-types): NOT UNTDID 1001 —
# 380 is the Credit Note and 381 the Commercial Invoice [COM d/167].
INVOICE_TYPES = {
    "380": "Credit Note",
    "381": "Commercial Invoice",
    "384": "Debit Note",
    "385": "Self Billed Invoice",
    "386": "Factored Invoice",
    "388": "Statement of Account",
    "389": "Purchase Order",
    "390": "Proforma Invoice",
    "392": "Consignment Invoice",
    "393": "Self-billed Credit Note",
    "394": "Self-billed Invoice",
    "395": "Credit Note Request",
    "396": "Invoice Request",
    "397": "Final Settlement",
    "399": "Bill of Lading",
    "400": "Waybill",
    "402": "Shipping Instructions",
    "404": "Certificate of Origin",
    "406": "Customs Declaration",
    "408": "Packing List",
}
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

# Samples only (UNCONFIRMED; FIRS's tables are longer): VAT exemptions keyed by
# HS code, service codes as ISIC rev.4 4-digit classes.
VAT_EXEMPTIONS_SAMPLE = {
    "0401": "Milk and cream (basic food item)",
    "1006": "Rice (basic food item)",
    "3004": "Medicaments (medical and pharmaceutical products)",
    "4901": "Books and printed matter (educational materials)",
}
SERVICE_CODES_SAMPLE = {
    "0112": "Growing of rice",
    "6201": "Computer programming activities",
    "6920": "Accounting, bookkeeping and auditing activities; tax consultancy",
    "8510": "Pre-primary and primary education",
}

# ISO 3166 alpha-2 countries and ISO 4217 currencies from pycountry (the
# maintained tables), rather than hand-copied lists.
COUNTRIES = {c.alpha_2: c.name for c in pycountry.countries}
CURRENCIES = {c.alpha_3: c.name for c in pycountry.currencies}


def resource(name: str) -> list[dict]:
    """The body of `GET /invoice/resources/{name}` as our sandbox serves it."""
    if name == "invoice-types":
        return [{"code": code, "value": value} for code, value in INVOICE_TYPES.items()]
    if name == "tax-categories":
        return [
            {"code": code, "value": value, "percent": "N/A" if percent is None else str(percent)}
            for code, (value, percent) in TAX_CATEGORIES.items()
        ]
    if name == "payment-means":
        return [{"code": code, "value": value} for code, value in PAYMENT_MEANS.items()]
    if name == "currencies":
        return [{"code": code, "name": value} for code, value in sorted(CURRENCIES.items())]
    if name == "countries":
        return [
            {"alpha_2": c.alpha_2, "alpha_3": c.alpha_3, "name": c.name, "numeric": c.numeric}
            for c in sorted(pycountry.countries, key=lambda c: c.alpha_2)
        ]
    if name == "vat-exemptions":
        return [{"hs_code": code, "description": value} for code, value in VAT_EXEMPTIONS_SAMPLE.items()]
    if name == "services-codes":
        return [{"code": code, "description": value} for code, value in SERVICE_CODES_SAMPLE.items()]
    raise KeyError(name)

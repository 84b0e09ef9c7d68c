"""HubSpot as a TaxPoynt provider: its facts as data (VENDORS.md §1) and its
registration. Everything HubSpot-specific the generic machinery needs is
reachable from `HubSpotProvider`.

UNCONFIRMED facts (VENDORS.md) kept here and only here: scope names (in
settings.ALLAUTH_CONNECTION_PROVIDERS, next to the allauth entry), the OAuth answers marked
at INTROSPECT_PATH, REVOKE_PATH and TOKEN_ALREADY_INVALID_*, the 10 000-result search cap and the 200 search page
limit, the 429 `policyName` values, and line-item discount property semantics (mapping.py).
"""
from __future__ import annotations

import datetime

from integrations.connections.registry import Provider, TokenSet, register

# Real HubSpot hosts; settings.VENDORS["hubspot"]["base_url"] (the sandbox in
# dev and tests) replaces both when set.
AUTHORIZE_HOST = "https://app.hubspot.com"
API_HOST = "https://api.hubapi.com"

AUTHORIZE_PATH = "/oauth/authorize"
# OAuth API 2026-03 (developers.hubspot.com/docs/api-reference/latest/authentication/manage-oauth-tokens and
# the v1 migration guide): the v1 endpoints (/oauth/v1/token, /oauth/v1/access-tokens/{t},
# /oauth/v1/refresh-tokens/{t}) are sunset on 2027-02-16 (changelog "v1 OAuth API Deprecation"). All
# three take form-encoded bodies carrying client_id, client_secret and the token: never a path or query.
# Errors follow RFC 6749 ({"error", "error_description"}) and keep the legacy {"status", "message"}
# (changelog "New OAuth v3 API Endpoints and Standardized Error Responses").
TOKEN_PATH = "/oauth/2026-03/token"
# Body: token, token_type_hint → 200 {"active": true, "token_use", "hub_id", "hub_domain", "user",
# "user_id", "scopes", "expires_in", …}. An unknown, expired or revoked token: 200 {"active": false}
# (RFC 7662 §2.2): UNCONFIRMED, HubSpot's reference shows only an active answer.
INTROSPECT_PATH = "/oauth/2026-03/token/introspect"
# Body: token, token_type_hint=refresh_token. "Deletes/Revokes provided Refresh Token"; access tokens
# already issued stay valid. The success answer (200, empty) and an unknown or already revoked token
# answering the same (RFC 7009 §2.2) are UNCONFIRMED: the reference documents only the error body.
REVOKE_PATH = "/oauth/2026-03/token/revoke"
# The grant is dead (re-authorise): RFC 6749's `error`, or HubSpot's legacy `status` (both are sent).
DEAD_GRANT_ERRORS = frozenset({"invalid_grant"})
DEAD_GRANT_STATUSES = frozenset({"BAD_REFRESH_TOKEN", "BAD_AUTH_CODE"})
# A revoke refused because the token is already invalid means it is revoked: a 4xx carrying one of these
# (UNCONFIRMED that HubSpot ever answers so; RFC 7009 answers 200).
TOKEN_ALREADY_INVALID_ERRORS = frozenset({"invalid_grant", "invalid_token"})
TOKEN_ALREADY_INVALID_STATUSES = frozenset({"BAD_REFRESH_TOKEN"})

# Webhooks (v3 signature).
SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
MAX_TIMESTAMP_AGE_MS = 300_000
# HubSpot decodes these escapes in the URI before signing ("Validating requests").
V3_URI_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
                 "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
DEAL_EVENTS = ("deal.creation", "deal.propertyChange", "deal.associationChange", "deal.deletion",
               "deal.restore", "deal.merge")

# Search.
SEARCH_RESULT_CAP = 10_000  # UNCONFIRMED exact figure (VENDORS.md §1.2)
SEARCH_PAGE_LIMIT = 100  # below the UNCONFIRMED 200 maximum
BATCH_READ_MAX = 100
LAST_MODIFIED = "hs_lastmodifieddate"

# CRM API version: every CRM path below is built from it. HubSpot's semantic
# versions lose support (v4, our association reads: 2027-03-30, changelog
# "deprecating-support-for-hubspot-v4-apis"; v1–v3: September 2027, legacy
# migration guide), which says to move to the 2026-09 equivalents. 2026-09 is GA
# (shipped 2026-09-08/09; the Pipelines v1 sunset changelog names it GA and latest) and
# covers each path we call: objects get/batch read/search, associations batch
# read, pipelines. Its breaking change, admin-configured validation on CRM writes
# ("crm-api-write-validation-enforcement"), does not reach us: we only read.
# Association batch read answers at most a page of `to` per input, with
# `paging.next.after` on that input's result while it has more: sent back
# beside its id ({"id", "after"}) until absent. UNCONFIRMED: the page size
# (not documented; one reader saw 600+ in one answer, v3 paged at 500); and
# that 2026-09 keeps v3/v4's shapes for what we read (string property values,
# search `total`/`paging.next.after`, pipeline stage metadata, 207 + `errors`):
# the 2026-03/latest reference pages show the same shapes, none announces a change.
CRM_API_VERSION = "2026-09"
CRM_OBJECTS_PATH = f"/crm/objects/{CRM_API_VERSION}/{{object_type}}"
CRM_OBJECT_PATH = CRM_OBJECTS_PATH + "/{object_id}"
CRM_SEARCH_PATH = CRM_OBJECTS_PATH + "/search"
CRM_BATCH_READ_PATH = CRM_OBJECTS_PATH + "/batch/read"
CRM_ASSOCIATIONS_BATCH_READ_PATH = f"/crm/associations/{CRM_API_VERSION}/{{from_type}}/{{to_type}}/batch/read"
CRM_PIPELINES_PATH = f"/crm/pipelines/{CRM_API_VERSION}/{{object_type}}"

# Properties we read.
DEAL_PROPERTIES = ("dealname", "amount", "deal_currency_code", "dealstage", "pipeline", "closedate",
                   "hs_lastmodifieddate", "hs_object_id", "description")
LINE_ITEM_PROPERTIES = ("name", "quantity", "price", "amount", "hs_product_id", "hs_sku", "description",
                        "discount", "hs_discount_percentage", "hs_tax_rate", "hs_tax_amount")
COMPANY_PROPERTIES = ("name", "domain", "address", "address2", "city", "state", "zip", "country", "phone",
                      "hs_lastmodifieddate")
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "phone", "company", "address", "city", "zip", "country",
                      "lastmodifieddate")

# Trigger default: the `closedwon` / `closedlost` stage ids every portal's
# default pipeline has; custom pipelines add "<pipeline>:<stage id>" entries.
DEFAULT_WON_STAGES = ["closedwon"]
DEFAULT_LOST_STAGES = ["closedlost"]


@register
class HubSpotProvider(Provider):
    key = "hubspot"
    kind = "crm"
    name = "HubSpot"
    production_authorize_base = AUTHORIZE_HOST
    production_api_base = API_HOST
    authorize_path = AUTHORIZE_PATH
    token_path = TOKEN_PATH
    revoke_path = REVOKE_PATH
    allauth_provider_id = "hubspot"
    # Access tokens live 30 min: refresh in the last 5.
    refresh_margin_seconds = 300
    webhook_task = "integrations.crm.hubspot.tasks.process_webhook_event"
    sync_interval_seconds = 900
    field_map_sources = ("deal", "company", "contact", "line_item")

    @classmethod
    def account_from_oauth(cls, *, token: TokenSet, profile: dict) -> dict:
        return {
            "external_account_id": str(profile.get("hub_id") or ""),
            "display_name": profile.get("hub_domain") or f"HubSpot {profile.get('hub_id')}",
            "scopes": list(profile.get("scopes") or []),
        }

    @classmethod
    def refresh(cls, *, refresh_token: str, connection=None) -> TokenSet:
        from .oauth import refresh_access_token

        return refresh_access_token(refresh_token=refresh_token, connection=connection)

    @classmethod
    def revoke(cls, *, credentials: dict, connection=None) -> None:
        from .oauth import revoke_refresh_token

        if credentials.get("refresh_token"):
            revoke_refresh_token(refresh_token=credentials["refresh_token"], connection=connection)

    @classmethod
    def revoke_retry_credentials(cls, *, credentials: dict, connection) -> dict:
        # Revoking takes only the refresh token (the app's own id and secret come from settings); access
        # tokens already issued just expire.
        return {"refresh_token": credentials["refresh_token"]} if credentials.get("refresh_token") else {}

    @classmethod
    def verify_webhook(cls, *, method, uri, body, headers) -> None:
        from .webhooks import verify_v3

        verify_v3(secret=cls.client_secret(), method=method, uri=uri, body=body, headers=headers)

    @classmethod
    def parse_webhook(cls, *, body, headers):
        from .webhooks import parse_events

        return parse_events(body)

    @classmethod
    def sync_class(cls):
        from .sync import HubSpotDealSync

        return HubSpotDealSync

    @classmethod
    def default_trigger_rule(cls) -> dict:
        return {"won_stages": list(DEFAULT_WON_STAGES), "lost_stages": list(DEFAULT_LOST_STAGES)}

    @classmethod
    def discover_trigger_rule(cls, *, connection) -> dict | None:
        """Won = every closed stage with probability 1.0, lost = closed with
        0.0, in each of the portal's deal pipelines (stage metadata values are
        strings in HubSpot's API). The default pipeline's stages stay bare ids
        (`closedwon`); other pipelines' are scoped `<pipeline>:<stage>`."""
        from .sync import client_for

        with client_for(connection) as client:
            pipelines = client.deal_pipelines()
        won, lost = [], []
        for pipeline in pipelines:
            for stage in pipeline.get("stages", []):
                meta = stage.get("metadata") or {}
                if str(meta.get("isClosed", "")).lower() != "true":
                    continue
                entry = stage["id"] if pipeline["id"] == "default" else f"{pipeline['id']}:{stage['id']}"
                probability = str(meta.get("probability", ""))
                if probability in ("1.0", "1"):
                    won.append(entry)
                elif probability in ("0.0", "0"):
                    lost.append(entry)
        return {"won_stages": won, "lost_stages": lost} if won else None

    @classmethod
    def deal_to_canonical(cls, *, deal, connection):
        from taxpoynt.errors import ApplicationError

        from .mapping import canonical_from_bundle

        if not (deal.raw or {}).get("deal"):
            raise ApplicationError("The deal has not been read from HubSpot yet; sync the connection first.",
                                   code="deal_not_synced")

        return canonical_from_bundle(deal.raw, connection=connection, issue_fallback=datetime.date.today())

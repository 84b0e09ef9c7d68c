"""Salesforce as a TaxPoynt provider: its facts as data (VENDORS.md §2, with
the protocol facts themselves in `facts.py`) and its registration. Everything
Salesforce-specific the generic machinery needs is reachable from
`SalesforceProvider`.

Choices kept here, in one place:
- Trigger: IsWon = true. On connect the org's OpportunityStage rows are read
  and every active stage with IsWon becomes a won stage (closed, not won →
  lost); the merchant may edit the list (configurable stage names). The static
  fallback is "Closed Won". The delta query asks `StageName IN (…)` for them.
- Write-back fields on Opportunity (per connection:
  `Connection.settings["writeback_fields"]` overrides them).
- Limits: REQUEST_LIMIT_EXCEEDED sends no Retry-After and the allocation is a
  rolling 24 h window, so we wait until the next full hour
  (`LIMIT_BACKOFF_*`), a documented guess that spends at most 24 attempts a day.
- Tokens carry no expires_in: refreshed only when an API call answers
  INVALID_SESSION_ID (`connection_refresh_rejected_token`).
"""
from __future__ import annotations

import datetime
import secrets

from integrations.connections.registry import Provider, TokenSet, register

from . import facts

DEFAULT_WON_STAGES = [facts.DEFAULT_WON_STAGE]
DEFAULT_LOST_STAGES = ["Closed Lost"]

# Opportunity custom fields the write-back PATCHes (invoice number, IRN, status).
DEFAULT_WRITEBACK_FIELDS = {"invoice_number": "TaxPoynt_Invoice_Number__c", "irn": "TaxPoynt_IRN__c",
                            "status": "TaxPoynt_Status__c"}
WRITEBACK_STATUS_CONFIRMED = "Confirmed"
# Write-back retries: 30 s, 1 min, 2 min … capped at 1 h, forever (never blocks the invoice).
WRITEBACK_FIRST_DELAY_SECONDS = 30
WRITEBACK_MAX_DELAY_SECONDS = 3600

# REQUEST_LIMIT_EXCEEDED: wait until the next hour (at least this long).
LIMIT_BACKOFF_MIN_SECONDS = 300

# Re-read this much before the last cursor: SystemModstamp has one-second
# precision and our clock is not Salesforce's; re-reads are idempotent.
SYNC_OVERLAP_SECONDS = 300

# How a merchant makes Salesforce call the endpoint. Workflow rules, which
# used to send outbound messages, reached end of support on 2025-12-31; a
# record-triggered flow sends the same message (its action type
# "outboundMessage"). Only the Id is read: the sync re-reads the Opportunity.
OUTBOUND_SETUP = (
    "In Salesforce Setup, create an Outbound Message on Opportunity with the endpoint URL above and the field "
    "Id. Then create a record-triggered flow on Opportunity, run after the record is saved when IsWon is "
    "true, whose action is that Outbound Message. Without it TaxPoynt still finds won deals at each sync.")

# The query parameter carrying a connection's outbound-message secret.
WEBHOOK_CONNECTION_PARAM = "c"
WEBHOOK_TOKEN_PARAM = "token"


def _org_id(value) -> str:
    """Org ids are stored in their 18-character form (outbound messages use it)."""
    from .ids import to_18

    text = str(value or "")
    return to_18(text) if len(text) in (15, 18) else text


def _revoked_key(credentials: dict) -> str:
    """The credential revoking sends: the refresh token, which ends its access
    tokens too, else the access token (the JWT bearer flow has no refresh
    token). POST token=… → 200; 400 invalid_token for a token already
    revoked or unknown (Salesforce "Revoke OAuth Tokens")."""
    return "refresh_token" if credentials.get("refresh_token") else "access_token"


@register
class SalesforceProvider(Provider):
    key = "salesforce"
    kind = "crm"
    name = "Salesforce"
    production_authorize_base = facts.LOGIN_URL_PRODUCTION
    production_api_base = facts.LOGIN_URL_PRODUCTION
    authorize_path = facts.AUTHORIZE_PATH
    token_path = facts.TOKEN_PATH
    revoke_path = facts.REVOKE_PATH
    allauth_provider_id = "salesforce"
    webhook_task = "integrations.crm.salesforce.tasks.process_webhook_event"
    sync_interval_seconds = 900
    field_map_sources = ("opportunity", "account", "line_item")

    @classmethod
    def login_url(cls) -> str:
        return cls.authorize_base_url()

    @classmethod
    def account_from_oauth(cls, *, token: TokenSet, profile: dict) -> dict:
        return {
            "external_account_id": _org_id(profile.get("organization_id")),
            "display_name": profile.get("username") or f"Salesforce {profile.get('organization_id')}",
            "scopes": list(profile.get("scopes") or token.scopes or []),
            "credentials": {"instance_url": profile.get("instance_url", ""), "flow": "web",
                            "identity_url": profile.get("id", "")},
        }

    @classmethod
    def on_authorized(cls, *, connection) -> None:
        from integrations.connections.oauth import connection_credentials
        import json

        creds = connection_credentials(connection)
        if not creds.get("webhook_token"):
            creds["webhook_token"] = secrets.token_urlsafe(32)
            connection.credentials = json.dumps(creds)
        from .tasks import writeback_schedule

        writeback_schedule()

    @classmethod
    def refresh(cls, *, refresh_token: str, connection=None) -> TokenSet:
        from .oauth import refresh_connection_token

        return refresh_connection_token(refresh_token=refresh_token, connection=connection)

    @classmethod
    def revoke(cls, *, credentials: dict, connection=None) -> None:
        from .oauth import revoke_token

        token = credentials.get(_revoked_key(credentials))
        if token:
            revoke_token(token=token, login_url=credentials.get("login_url", ""), connection=connection)

    @classmethod
    def revoke_retry_credentials(cls, *, credentials: dict, connection) -> dict:
        key = _revoked_key(credentials)
        if not credentials.get(key):
            return {}
        return {key: credentials[key], **({"login_url": credentials["login_url"]} if credentials.get("login_url") else {})}

    @classmethod
    def verify_webhook(cls, *, method, uri, body, headers) -> None:
        from .webhooks import verify_outbound_message

        verify_outbound_message(uri=uri, body=body)

    @classmethod
    def parse_webhook(cls, *, body, headers):
        from .webhooks import parse_events

        return parse_events(body)

    @classmethod
    def connection_facts(cls, *, connection) -> list[tuple[str, str]]:
        from django.conf import settings

        from integrations.connections.oauth import connection_credentials

        from .webhooks import listener_url

        creds = connection_credentials(connection)
        data = connection.settings or {}
        facts_shown = [("Connected with", "JWT bearer (server to server)" if creds.get("flow") == "jwt"
                        else "OAuth web server flow"),
                       ("Instance", creds.get("instance_url", ""))]
        if creds.get("webhook_token"):
            facts_shown.append(("Outbound message endpoint URL",
                                listener_url(connection, base_url=settings.PUBLIC_BASE_URL)))
            facts_shown.append(("Sending it from Salesforce", OUTBOUND_SETUP))
        usage = data.get("api_usage") or {}
        if usage:
            text = f"{usage.get('used')} / {usage.get('max')} API requests (rolling 24 h)"
            if usage.get("limit_exceeded"):
                text += " — limit exceeded, syncing paused until the next hour"
            facts_shown.append(("Salesforce API usage", text))
        attention = data.get("writeback_attention") or 0
        facts_shown.append(("Write-backs needing attention", str(attention)))
        return facts_shown

    @classmethod
    def webhook_ack(cls, *, received: int, new: int):
        from .outbound import ACK_CONTENT_TYPE, ack_response

        return ack_response(True), ACK_CONTENT_TYPE

    @classmethod
    def sync_class(cls):
        from .sync import SalesforceOpportunitySync

        return SalesforceOpportunitySync

    @classmethod
    def default_trigger_rule(cls) -> dict:
        return {"won_stages": list(DEFAULT_WON_STAGES), "lost_stages": list(DEFAULT_LOST_STAGES)}

    @classmethod
    def discover_trigger_rule(cls, *, connection) -> dict | None:
        """Won stages = the org's active stages with IsWon = true; lost = closed, not won."""
        from .session import OrgApi

        with OrgApi(connection) as api:
            page = api.query_page(soql="SELECT ApiName, IsClosed, IsWon FROM OpportunityStage "
                                       "WHERE IsActive = true ORDER BY SortOrder")
        rows = page.get("records") or []
        won = [r["ApiName"] for r in rows if r.get("IsWon")]
        if not won:
            return None
        return {"won_stages": won, "lost_stages": [r["ApiName"] for r in rows if r.get("IsClosed") and not r.get("IsWon")]}

    @classmethod
    def deal_to_canonical(cls, *, deal, connection):
        from .services import canonical_for_deal

        return canonical_for_deal(deal=deal, connection=connection, issue_fallback=datetime.date.today())


# Registers the allauth provider class for the web server flow (see oauth.py).
from . import oauth  # noqa: E402,F401

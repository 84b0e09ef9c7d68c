"""Square as a TaxPoynt provider: its facts as data (VENDORS.md §4, kept in
`constants`) and its registration. Everything Square-specific the generic
machinery (OAuth token service, webhook intake, sync runner) needs is reachable
from `SquareProvider`.

- OAuth: authorization code with PKCE (django-allauth "connect" flow through
  our own allauth provider, `oauth.SquareConnectProvider`: allauth has none for
  Square). PKCE refresh tokens rotate on every refresh (the token service
  stores the new one) and live 90 days (`constants.PKCE_REFRESH_TOKEN_TTL`); access
  tokens live 30 days and Square advises refreshing at least weekly, so we
  refresh once a token is older than a week (`refresh_margin_seconds`).
- Webhooks: Square signs with the *subscription's* signature key (not the
  client secret): settings.SQUARE_WEBHOOK_SIGNATURE_KEY. One delivery is one
  event; `merchant_id` routes it to the Connection.
"""
from __future__ import annotations

from django.conf import settings

from integrations.connections.registry import ParsedEvent, Provider, TokenSet, WebhookRejected, register
from taxpoynt.errors import ApplicationError

from . import constants


def webhook_signature_key() -> str:
    return getattr(settings, "SQUARE_WEBHOOK_SIGNATURE_KEY", "")


@register
class SquareProvider(Provider):
    key = "square"
    kind = "pos"
    name = "Square"
    production_authorize_base = constants.PRODUCTION_BASE_URL
    production_api_base = constants.PRODUCTION_BASE_URL
    authorize_path = "/oauth2/authorize"
    token_path = "/oauth2/token"
    revoke_path = "/oauth2/revoke"
    revokes_whole_account = True  # RevokeToken: "revokes all of them, regardless of which token you specify"
    allauth_provider_id = "square"
    # Tokens live 30 days; refresh once fewer than 23 remain (i.e. weekly).
    refresh_margin_seconds = int((constants.ACCESS_TOKEN_TTL - constants.REFRESH_EVERY).total_seconds())
    webhook_task = "integrations.pos.square.tasks.process_webhook_event"
    # The delta sync backs up webhooks; sales arrive in real time by webhook.
    sync_interval_seconds = 900
    # B2C by default; B2B when the field map names the order metadata key
    # holding the buyer's TIN: {"customer.tin": "metadata.<key>"} (and its
    # name likewise). The mapper reads nothing else from a field map.
    field_map_sources = (constants.FIELD_MAP_SOURCE,)
    field_map_targets = ("customer.tin", "customer.name")
    # A sale is invoiced when Square completes it: no stages. Square's own
    # taxes set each line's category; the tax rule is the category of what
    # Square charges no tax on (mapping.MappingOptions.untaxed_category).
    trigger_rule_parts = ("tax", "outside_vat")
    tax_rule_help = ("Square's own taxes set each line's VAT category. The category below applies to items and "
                     "service charges Square charges no tax on.")
    # The events TaxPoynt acts on (the subscription to create in Square).
    webhook_event_types = ("order.updated", "payment.updated", "refund.updated")
    # A backlog of sales (under a burst) is taken ten at a time: one
    # BatchRetrieveOrders, the bulk invoice path and the FIRS steps in
    # lockstep (services.webhook_events_process). Since the lockstep writes
    # a step of the batch as one statement, ten gives 98 confirmed/s at
    # 100/s where five gave 92 (bench/pos_realtime.py), with the
    # acknowledgements' p99 at 24 ms (before the lockstep, ten's larger
    # commits held them up: 68–109 ms).
    webhook_batch_event_types = ("order.updated", "payment.updated")
    webhook_batch_size = 10

    @classmethod
    def default_trigger_rule(cls) -> dict:
        from invoicing.canonical import ZERO_VAT

        from .mapping import MappingOptions

        # What Square charges no tax on is zero-rated unless the merchant says otherwise.
        return {"tax_category": ZERO_VAT, "tax_rate": "0", "exemption_reason": MappingOptions.zero_rated_reason}

    @classmethod
    def account_from_oauth(cls, *, token: TokenSet, profile: dict) -> dict:
        merchant_id = str(profile.get("merchant_id") or "")
        return {
            "external_account_id": merchant_id,
            "display_name": profile.get("business_name") or f"Square {merchant_id}",
            "scopes": list(profile.get("scopes") or []),
            # PKCE grants rotate refresh tokens and refresh without the client secret.
            "credentials": {"merchant_id": merchant_id, "pkce": bool(profile.get("pkce", True))},
        }

    @classmethod
    def on_authorized(cls, *, connection) -> None:
        from django.db import transaction

        # Read the merchant's locations once the connection row is committed.
        connection_id = str(connection.pk)
        transaction.on_commit(lambda: _enqueue_locations_refresh(connection_id))

    @classmethod
    def refresh(cls, *, refresh_token: str, connection=None) -> TokenSet:
        from .oauth import refresh_access_token

        pkce = True
        if connection is not None:
            from integrations.connections.oauth import connection_credentials

            pkce = bool(connection_credentials(connection).get("pkce", True))
        return refresh_access_token(refresh_token=refresh_token, pkce=pkce)

    @classmethod
    def revoke(cls, *, credentials: dict, connection=None) -> None:
        from .oauth import revoke_access_token

        if credentials.get("access_token") or credentials.get("merchant_id"):
            if not revoke_access_token(access_token=credentials.get("access_token"),
                                       merchant_id=credentials.get("merchant_id")):
                raise ApplicationError("Square answered success: false", code="revoke_refused")

    @classmethod
    def revoke_retry_credentials(cls, *, credentials: dict, connection) -> dict:
        # RevokeToken takes the seller's merchant_id with the app's own secret (every token of the
        # seller): asking again keeps no token.
        return {"merchant_id": connection.external_account_id} if connection.external_account_id else {}

    @classmethod
    def verify_webhook(cls, *, method, uri, body, headers) -> None:
        from .webhooks import signature_from_headers, verify_signature

        from taxpoynt.ops.metrics import webhook_events_total

        signature = signature_from_headers(headers)
        if not signature:
            webhook_events_total.labels(vendor=cls.key, outcome="missing_signature").inc()
            raise WebhookRejected("missing_signature", "The x-square-hmacsha256-signature header is missing.")
        if not verify_signature(signature_key=webhook_signature_key(), notification_url=uri, body=body,
                                signature=signature):
            webhook_events_total.labels(vendor=cls.key, outcome="bad_signature").inc()
            raise WebhookRejected("bad_signature", "The Square signature does not match.")

    @classmethod
    def parse_webhook(cls, *, body, headers) -> list[ParsedEvent]:
        import json

        from .webhooks import WebhookError, parse_event

        from taxpoynt.ops.metrics import webhook_events_total

        try:
            event = parse_event(body)
        except WebhookError as exc:
            webhook_events_total.labels(vendor=cls.key, outcome="malformed").inc()
            raise WebhookRejected("malformed", str(exc)) from None
        webhook_events_total.labels(vendor=cls.key, outcome="verified").inc()
        return [ParsedEvent(event_id=event.event_id, event_type=event.type, account_id=event.merchant_id,
                            payload=json.loads(body))]

    @classmethod
    def invoice_transactions(cls, *, transactions) -> dict:
        """Batch re-processing (POST /api/v1/pos/transactions/batch-process)."""
        from .services import transactions_batch_process

        return transactions_batch_process(transactions=transactions)

    @classmethod
    def sync_class(cls):
        from .sync import SquareOrderSync

        return SquareOrderSync


def _enqueue_locations_refresh(connection_id: str) -> None:
    from .tasks import refresh_locations

    try:
        refresh_locations.delay(connection_id=connection_id)
    except Exception:  # the first sync reads them too
        import logging

        logging.getLogger(__name__).exception("could not enqueue the Square locations refresh")

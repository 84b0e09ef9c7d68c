"""The provider registry (Sentry's IntegrationProvider pattern).

A `Provider` is one vendor's whole story as data plus a few hooks: its key,
kind and name, OAuth facts, the webhook verifier and event parser, the sync
class, the mapper and the trigger/field-map vocabulary. Vendor packages
subclass it in their `provider.py` and call `register(...)`; the generic
machinery (OAuth token service, webhook intake, sync runner, dashboard, admin)
only ever asks the registry, never names a vendor.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
import time
from typing import Any, ClassVar

from django.conf import settings


@dataclasses.dataclass
class TokenSet:
    """What a token endpoint answered, vendor-neutral."""

    access_token: str
    refresh_token: str = ""
    expires_in: int | None = None
    scopes: list[str] = dataclasses.field(default_factory=list)
    extra: dict = dataclasses.field(default_factory=dict)
    # When the token was asked for (epoch seconds, at or before its issue; by
    # default when this was built): a revocation of the account asked since
    # may have ended it (oauth._account_revocations_settle).
    requested_at: float = dataclasses.field(default_factory=time.time)


@dataclasses.dataclass
class ParsedEvent:
    """One event from a verified delivery (a delivery may carry many)."""

    event_id: str
    event_type: str
    account_id: str  # routes the event to a Connection (portalId, merchant_id …)
    payload: dict


class WebhookRejected(Exception):
    """A delivery refused at the door; `reason` is a short machine code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class Provider:
    """Base class of every vendor provider. Class attributes are the vendor's
    facts; methods are the few hooks the generic machinery calls."""

    key: ClassVar[str]  # "hubspot": also settings.VENDORS key and URL segment
    kind: ClassVar[str]  # "crm" | "pos" | "erp"
    name: ClassVar[str]  # "HubSpot"
    # OAuth facts. Real production hosts are data here; settings.VENDORS
    # [key]["base_url"] (the sandbox in dev/tests) overrides them when set.
    production_authorize_base: ClassVar[str] = ""
    production_api_base: ClassVar[str] = ""
    authorize_path: ClassVar[str] = ""
    token_path: ClassVar[str] = ""
    revoke_path: ClassVar[str] = ""
    # Whether a revocation ends every token of the vendor account for our app,
    # whichever token or account id it names (Square's RevokeToken), so one
    # asked for a disconnected connection ends a new connection's token too
    # (oauth.connection_authorize settles them).
    revokes_whole_account: ClassVar[bool] = False
    # The django-allauth provider id that runs the authorization-code flow.
    allauth_provider_id: ClassVar[str] = ""
    # Refresh this long before the access token expires (seconds).
    refresh_margin_seconds: ClassVar[int] = 300
    # Celery task (dotted name) that processes one stored WebhookEvent; its
    # module decides its queue (taxpoynt.celery.route_task).
    webhook_task: ClassVar[str] = ""
    # Default delta-sync interval for the beat entry (seconds).
    sync_interval_seconds: ClassVar[int] = 900
    # The vendor object kinds a field map may read from, e.g. ("deal", "company").
    field_map_sources: ClassVar[tuple[str, ...]] = ()
    # The invoice fields (connections.rules.MAPPABLE_FIELDS) its mapper fills
    # from a field map; None: every one.
    field_map_targets: ClassVar[tuple[str, ...] | None] = None
    # The parts of the trigger rule (connections.rules) its mapper acts on,
    # which the connection page shows and validates: "stages" (the won and
    # lost stages of a deal) and "tax" (the category and rate of what the
    # source gives no tax for). A POS sale has no stages: it is invoiced
    # when the POS completes it.
    trigger_rule_parts: ClassVar[tuple[str, ...]] = ("stages", "tax")
    # What the tax part means for this provider, shown beside it.
    tax_rule_help: ClassVar[str] = ""
    # A backlog of live events of these types is taken up to this many at a
    # time by one task run (the vendor's `process_many`, its bulk paths:
    # connections.tasks.webhook_event_run). 1: always one at a time.
    webhook_batch_event_types: ClassVar[tuple[str, ...]] = ()
    webhook_batch_size: ClassVar[int] = 1

    # --- settings -------------------------------------------------------------
    @classmethod
    def vendor_settings(cls) -> dict:
        return settings.VENDORS.get(cls.key, {})

    @classmethod
    def client_id(cls) -> str:
        return cls.vendor_settings().get("client_id", "")

    @classmethod
    def client_secret(cls) -> str:
        return cls.vendor_settings().get("client_secret", "")

    @classmethod
    def api_base_url(cls) -> str:
        return (cls.vendor_settings().get("base_url") or cls.production_api_base).rstrip("/")

    @classmethod
    def authorize_base_url(cls) -> str:
        return (cls.vendor_settings().get("base_url") or cls.production_authorize_base).rstrip("/")

    @classmethod
    def authorize_url(cls) -> str:
        return cls.authorize_base_url() + cls.authorize_path

    @classmethod
    def token_url(cls) -> str:
        return cls.api_base_url() + cls.token_path

    # --- hooks a vendor implements --------------------------------------------
    @classmethod
    def account_from_oauth(cls, *, token: TokenSet, profile: dict) -> dict:
        """{"external_account_id", "display_name", "scopes"} from the callback."""
        raise NotImplementedError

    @classmethod
    def refresh(cls, *, refresh_token: str, connection=None) -> TokenSet:
        """Exchange a refresh token; raise `connections.http.VendorAuthError`
        when the grant is dead (invalid_grant)."""
        raise NotImplementedError

    @classmethod
    def revoke(cls, *, credentials: dict, connection=None) -> None:
        """Revoke upstream; raise when the vendor does not confirm (no
        answer, a 5xx, a refusal). An answer that the token is already
        invalid or unknown means it is revoked: return. Called at disconnect
        with the connection's credentials, and again later with what
        `revoke_retry_credentials` kept."""

    @classmethod
    def revoke_retry_credentials(cls, *, credentials: dict, connection) -> dict:
        """The part of `credentials` that `revoke` needs to be asked again
        after a disconnect the vendor did not confirm, and nothing more (the
        token to revoke; for a vendor revoking by account on the app's own
        secret, the account id). It is all a disconnected connection keeps,
        encrypted, until the vendor confirms or the retry window ends
        (connections.services). Empty: the vendor cannot be asked again."""
        return {}

    @classmethod
    def on_authorized(cls, *, connection) -> None:
        """Called by connection_authorize just before the row is saved (under
        its lock): e.g. create a per-connection webhook secret once."""

    @classmethod
    def connection_facts(cls, *, connection) -> list[tuple[str, str]]:
        """(label, value) pairs the connection page shows (API usage, a
        listener URL to configure at the vendor, items needing attention …)."""
        return []

    @classmethod
    def webhook_ack(cls, *, received: int, new: int) -> tuple[bytes, str] | None:
        """(body, content type) answering an accepted delivery, or None for the
        default JSON summary. For vendors that require a protocol-level
        acknowledgement (e.g. a SOAP Ack), sent only after the events are stored."""
        return None

    @classmethod
    def verify_webhook(cls, *, method: str, uri: str, body: bytes, headers: dict[str, str]) -> None:
        """Raise WebhookRejected unless the delivery is authentic and fresh."""
        raise NotImplementedError

    @classmethod
    def parse_webhook(cls, *, body: bytes, headers: dict[str, str]) -> list[ParsedEvent]:
        raise NotImplementedError

    @classmethod
    def sync_class(cls):
        """The vendor's Sync class (see connections.sync.VendorSync)."""
        raise NotImplementedError

    @classmethod
    def default_trigger_rule(cls) -> dict:
        return {}

    @classmethod
    def discover_trigger_rule(cls, *, connection) -> dict | None:
        """The default rule read from the vendor account (its pipelines and
        their won/lost stages), or None to keep `default_trigger_rule`."""
        return None

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {"key": cls.key, "kind": cls.kind, "name": cls.name}


_REGISTRY: dict[str, type[Provider]] = {}


def register(provider: type[Provider]) -> type[Provider]:
    """Register a vendor provider (used as a class decorator in provider.py)."""
    _REGISTRY[provider.key] = provider
    return provider


def get_provider(key: str) -> type[Provider]:
    from taxpoynt.errors import ApplicationError

    try:
        return _REGISTRY[key]
    except KeyError:
        raise ApplicationError(f"Unknown provider {key!r}.", code="unknown_provider") from None


def providers(*, kind: str | None = None) -> list[type[Provider]]:
    return [p for p in _REGISTRY.values() if kind is None or p.kind == kind]


VENDOR_MODULES = ("provider", "tasks")


def import_vendor_packages(package_name: str) -> list[str]:
    """Import `<package>.<vendor>.provider` (registers the provider) and
    `<package>.<vendor>.tasks` (Celery's autodiscovery only looks one level
    down) for every vendor sub-package that has them. Called from each kind's
    AppConfig.ready (crm, pos, erp); nothing here names a vendor."""
    package = importlib.import_module(package_name)
    loaded = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg:
            continue
        for module in VENDOR_MODULES:
            name = f"{package_name}.{info.name}.{module}"
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
                loaded.append(name)
    return loaded

"""The OAuth token service, vendor-neutral.

- `connection_start_authorization`: the authorize URL that starts
  django-allauth's "connect" flow for a provider (allauth stashes and checks
  `state`, and PKCE where the provider enables it); the org being connected
  travels inside allauth's state, so two tabs never mix.
- `on_pre_social_login`: allauth signal receiver. When the flow was started by
  us, it turns the callback's tokens into a Connection (tokens encrypted on the
  Connection; no allauth SocialAccount/SocialToken rows, STORE_TOKENS is off)
  and redirects to the connection page.
- `oauth_callback`: the generic callback view (`/api/v1/<kind>/<vendor>/callback`).
- `ConnectionSocialAccountAdapter` (settings.SOCIALACCOUNT_ADAPTER): a
  connection dance that fails (cancelled at the vendor, state unknown, token
  exchange refused, not allowed) lands on the connections page saying what
  happened, not on allauth's login error pages.
- `connection_authorize`: the Connection for (organization, vendor account);
  refused (409) while another organization holds a live connection to the
  same vendor account.
- `connection_get_access_token`: a usable access token, refreshed before expiry
  under a per-connection row lock (two workers never refresh at once);
  `invalid_grant` marks the connection needs_reauth. A grant that came without
  a refresh token (e.g. a short-lived token) is used until it expires, then
  marks the connection needs_reauth: nothing can refresh it.
"""
from __future__ import annotations

import datetime
import json
import logging
import time

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter, get_adapter as get_social_adapter
from allauth.socialaccount.providers.base import AuthError
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from django.core.exceptions import PermissionDenied
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from taxpoynt.errors import ApplicationError

from .http import VendorAuthError
from .models import LIVE_ACCOUNT_CONSTRAINT, Connection
from .registry import TokenSet, get_provider, providers
from .selectors import connection_for_account

logger = logging.getLogger(__name__)

STATE_KEY = "taxpoynt_connect"


class NeedsReauth(ApplicationError):
    def __init__(self, connection):
        super().__init__(f"{connection} must be re-authorized.", code="needs_reauth")
        self.connection = connection


class AccountNotConnected(ApplicationError):
    """A vendor account a connection could not be made for (409): each
    subclass's `text` says why, with {name} the vendor and {account} the
    account id; its `error_code` is the API's code."""

    status_code = 409
    text = ""
    error_code = ""

    def __init__(self, *, provider, external_account_id: str):
        super().__init__(self.text.format(name=provider.name, account=external_account_id), code=self.error_code)


class AccountConnectedElsewhere(AccountNotConnected):
    """Another organization holds a live connection to this vendor account.
    Webhooks route by the account and its sales would reach FIRS twice, under
    two TINs, so one account has one live connection."""

    text = ("This {name} account ({account}) is already connected to another organization on TaxPoynt. "
            "Nothing was connected: disconnect it there first, then connect it here.")
    error_code = "account_connected_elsewhere"


class AccountRevokedMeanwhile(AccountNotConnected):
    """The vendor was asked to revoke TaxPoynt's earlier access to this
    account since the new token was asked for; the vendor revokes every token
    of the account (`Provider.revokes_whole_account`), so the new one may be
    dead already. The code cannot be exchanged twice: the merchant connects
    again (no revocation is pending any more)."""

    text = ("{name} was revoking TaxPoynt's earlier access to this account ({account}) while you connected, "
            "which ends the new access too. Nothing was connected: connect again.")
    error_code = "account_revoked_meanwhile"


# --- credentials -------------------------------------------------------------------
def connection_credentials(connection: Connection) -> dict:
    try:
        return json.loads(connection.credentials or "{}")
    except ValueError:
        return {}


def _set_credentials(connection: Connection, token: TokenSet, *, previous: dict | None = None) -> None:
    creds = dict(previous or {})
    creds["access_token"] = token.access_token
    # Some vendors do not rotate refresh tokens: keep the old one when none comes back.
    if token.refresh_token:
        creds["refresh_token"] = token.refresh_token
    # Vendor extras answered with the token (e.g. the API host), kept encrypted with it.
    creds.update(token.extra.get("credentials") or {})
    connection.credentials = json.dumps(creds)
    connection.token_expires_at = (timezone.now() + datetime.timedelta(seconds=int(token.expires_in))
                                   if token.expires_in else None)


# --- starting the flow ---------------------------------------------------------------
def connection_start_authorization(*, request, provider_key: str, organization, next_url: str = "") -> str:
    """The vendor authorize URL for connecting `organization`; allauth stashes
    state (and PKCE verifier) in the session of `request`."""
    provider = get_provider(provider_key)
    social = get_social_adapter().get_provider(request, provider.allauth_provider_id)
    response = social.redirect(
        request, "connect", next_url=next_url or None,
        # started_at: the token comes later; a revocation asked since may end it (connection_authorize).
        data={STATE_KEY: {"organization_id": str(organization.pk), "vendor": provider.key,
                          "started_at": time.time()}},
    )
    location = response.get("Location")
    if not location:
        raise ApplicationError("Could not start the authorization.", code="oauth_start_failed")
    return location


def oauth_callback(request, vendor: str):
    """The redirect_uri: allauth verifies state and exchanges the code; our
    signal receiver below turns the result into a Connection."""
    provider = get_provider(vendor)
    social = get_social_adapter().get_provider(request, provider.allauth_provider_id)
    return OAuth2CallbackView.adapter_view(social.oauth2_adapter_class)(request)


def on_pre_social_login(sender, request, sociallogin, **kwargs):
    data = (sociallogin.state or {}).get("data") or {}
    started = data.get(STATE_KEY) if isinstance(data, dict) else None
    if not started:
        return  # an ordinary allauth login, not a connection
    if not request.user.is_authenticated:
        raise PermissionDenied("Sign in before connecting an account.")
    from taxpoynt.tenancy.selectors import organization_get

    provider = get_provider(started["vendor"])
    from .selectors import user_can_manage

    try:
        organization = organization_get(user=request.user, organization_id=started["organization_id"])
    except Exception:
        raise PermissionDenied("You are not a member of that organization.") from None
    if not user_can_manage(user=request.user, organization_id=organization.pk):
        raise PermissionDenied("Only an owner or accountant may connect systems.")
    token = sociallogin.token
    expires_in = None
    if token.expires_at:
        expires_in = max(0, int((token.expires_at - timezone.now()).total_seconds()))
    token_set = TokenSet(access_token=token.token, refresh_token=token.token_secret or "", expires_in=expires_in,
                         requested_at=started.get("started_at") or time.time())
    account = provider.account_from_oauth(token=token_set, profile=sociallogin.account.extra_data or {})
    try:
        connection = connection_authorize(organization=organization, provider_key=provider.key, token=token_set,
                                          account=account, user=request.user)
    except ApplicationError as exc:
        raise ImmediateHttpResponse(back_to_connections(request, exc.message)) from None
    from .services import connection_discover_trigger_rule

    connection_discover_trigger_rule(connection=connection)
    # `next` came from the caller of the connect API: only a page of ours, never an open redirect.
    next_url = sociallogin.state.get("next")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("connections:detail", kwargs={"connection_id": connection.pk})
    raise ImmediateHttpResponse(HttpResponseRedirect(next_url))


def back_to_connections(request, message: str) -> HttpResponseRedirect:
    """The merchant's way out of a connection dance that connected nothing:
    the connections page, saying why."""
    messages.error(request, message)
    return HttpResponseRedirect(reverse("connections:index"))


def _connection_provider(*, allauth_provider, state):
    """Our Provider when this allauth flow is a connection dance, else None (an
    ordinary login). Without a state read (forged, expired, started in another
    browser) the provider decides: our connection providers start no logins."""
    if state is not None:
        data = state.get("data")
        if not (isinstance(data, dict) and data.get(STATE_KEY)):
            return None
    return next((p for p in providers() if p.allauth_provider_id == allauth_provider.id), None)


def _authorization_failure(request, *, name: str, error, exception, state) -> str:
    if error == AuthError.CANCELLED:
        return f"You cancelled at {name}: nothing was connected."
    if state is None:
        return (f"{name} was not connected: this authorization was not started here or has expired "
                f"(it must finish in the browser that started it). Start again from this page.")
    if isinstance(exception, PermissionDenied):
        return f"{name} was not connected: {exception}"
    if exception is not None:  # the token exchange (or reading the account) failed: the details go to the log
        return (f"{name} did not complete the authorization: nothing was connected. "
                f"Try again; if it keeps failing, contact support.")
    return f"{name} answered with an error ({request.GET.get('error', 'unknown')[:100]}): nothing was connected."


class ConnectionSocialAccountAdapter(DefaultSocialAccountAdapter):
    """allauth's adapter: its error pages speak of logins, and a merchant connecting a system is not logging in."""

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None):
        state = (extra_context or {}).get("state")
        ours = _connection_provider(allauth_provider=provider, state=state)
        if ours is None:
            return super().on_authentication_error(request, provider, error=error, exception=exception,
                                                   extra_context=extra_context)
        logger.warning("connection authorization failed", extra={
            "vendor": ours.key, "error": str(error or ""), "exception": repr(exception) if exception else "",
            "state_found": state is not None})
        raise ImmediateHttpResponse(back_to_connections(request, _authorization_failure(
            request, name=ours.name, error=error, exception=exception, state=state)))


# --- services ---------------------------------------------------------------------------
@transaction.atomic
def connection_authorize(*, organization, provider_key: str, token: TokenSet, account: dict, user=None) -> Connection:
    """Create or re-authorize the Connection for (organization, vendor account)
    with fresh tokens, then schedule its delta sync. Raises
    AccountConnectedElsewhere when another organization holds a live
    connection to that account (the constraint settles a race)."""
    from .services import connection_schedule_sync

    provider = get_provider(provider_key)
    account_id = account["external_account_id"]
    live = connection_for_account(vendor=provider.key, account_id=account_id) if account_id else None
    if live is not None and live.organization_id != organization.pk:
        raise AccountConnectedElsewhere(provider=provider, external_account_id=account_id)
    if provider.revokes_whole_account and account_id:
        _account_revocations_settle(provider=provider, account_id=account_id, token=token)
    connection = (Connection.objects.select_for_update()
                  .filter(organization=organization, vendor=provider.key, external_account_id=account_id)
                  .first())
    if connection is None:
        connection = Connection(organization=organization, vendor=provider.key, kind=provider.kind,
                                external_account_id=account_id, trigger_rule=provider.default_trigger_rule())
    # A disconnected row holds at most what a pending revocation kept: not credentials to connect with.
    previous = {} if connection.status == Connection.Status.DISCONNECTED else connection_credentials(connection)
    _set_credentials(connection, token, previous=previous)
    if account.get("credentials"):  # vendor secrets beside the tokens (API host, signing key …), encrypted
        connection.credentials = json.dumps({**connection_credentials(connection), **account["credentials"]})
    if account.get("settings"):
        connection.settings = {**(connection.settings or {}), **account["settings"]}
    provider.on_authorized(connection=connection)
    connection.display_name = account.get("display_name", "") or connection.display_name
    connection.scopes = account.get("scopes") or token.scopes or connection.scopes
    connection.status = Connection.Status.CONNECTED
    connection.last_error = ""
    connection.disconnected_at = None
    connection.revoke_pending_until = None  # connected again: a pending revocation is never asked now
    connection.connected_by = user if user is not None and user.is_authenticated else connection.connected_by
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError as exc:
        if LIVE_ACCOUNT_CONSTRAINT not in str(exc):
            raise
        raise AccountConnectedElsewhere(provider=provider, external_account_id=account_id) from exc
    connection_schedule_sync(connection=connection)
    logger.info("connection authorized", extra={"connection": str(connection.pk), "vendor": provider.key,
                                                 "org": str(organization.pk)})
    return connection


def _account_revocations_settle(*, provider, account_id: str, token: TokenSet) -> None:
    """Before a vendor account that a revocation ends whole (Square) is
    connected: wait for a revocation of it being asked now (the retry holds
    its connection's row lock while it asks), refuse the new token if one
    was asked since the token was asked for (AccountRevokedMeanwhile), and end
    the pending ones, so none is asked once the account is connected again.
    A disconnected connection's row changes after the token's issue only
    when its revocation is asked (the disconnect, a retry, the sweep) or
    ended, so that is the test. A false alarm (one asked while the merchant
    was still on the consent page) costs a second connect."""
    from .services import revoke_pending_end_connected_again

    requested = datetime.datetime.fromtimestamp(token.requested_at, tz=datetime.timezone.utc)
    disconnected = list(Connection.objects.select_for_update(no_key=True).filter(
        vendor=provider.key, external_account_id=account_id, status=Connection.Status.DISCONNECTED))
    if any(row.updated_at >= requested for row in disconnected):
        raise AccountRevokedMeanwhile(provider=provider, external_account_id=account_id)
    for row in disconnected:
        if row.revoke_pending_until is not None:
            revoke_pending_end_connected_again(row)


def _expiring(connection: Connection, creds: dict, provider) -> bool:
    """Due for a refresh: within the provider's margin of expiry when a
    refresh token is stored; without one nothing can refresh it early, so only
    once it has expired."""
    if connection.token_expires_at is None:
        return False
    margin = provider.refresh_margin_seconds if creds.get("refresh_token") else 0
    return connection.token_expires_at <= timezone.now() + datetime.timedelta(seconds=margin)


def connection_get_access_token(*, connection: Connection) -> str:
    """A valid access token for `connection`, refreshing it first when it is
    within the provider's margin of expiry.

    The refresh runs under SELECT … FOR UPDATE on the Connection row and
    re-checks expiry after the lock is taken, so when two workers race only the
    first refreshes and the second reads the new token. A dead grant, or an
    expired token stored without a refresh token, marks the connection
    needs_reauth (committed) and raises NeedsReauth."""
    provider = get_provider(connection.vendor)
    if connection.status == Connection.Status.NEEDS_REAUTH:
        raise NeedsReauth(connection)
    creds = connection_credentials(connection)
    if not _expiring(connection, creds, provider):
        return creds.get("access_token", "")
    failed = None
    with transaction.atomic():
        locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
        creds = connection_credentials(locked)
        if locked.status == Connection.Status.NEEDS_REAUTH:
            failed = "needs_reauth"
        elif not _expiring(locked, creds, provider):
            pass  # another worker refreshed while we waited for the lock
        elif not creds.get("refresh_token"):
            failed = "the access token expired and came without a refresh token"
        else:
            try:
                token = provider.refresh(refresh_token=creds["refresh_token"], connection=locked)
            except VendorAuthError as exc:
                failed = f"refresh refused: {exc}"
            else:
                _set_credentials(locked, token, previous=creds)
                locked.save(update_fields=["credentials", "token_expires_at", "updated_at"])
        if failed and locked.status != Connection.Status.NEEDS_REAUTH:
            locked.status = Connection.Status.NEEDS_REAUTH
            locked.last_error = failed[:1000]
            locked.save(update_fields=["status", "last_error", "updated_at"])
            logger.warning("connection needs re-authorization",
                           extra={"connection": str(locked.pk), "reason": failed})
    # Hand the caller's instance the committed state.
    for field in ("credentials", "token_expires_at", "status", "last_error"):
        setattr(connection, field, getattr(locked, field))
    if failed:
        raise NeedsReauth(connection)
    return connection_credentials(locked).get("access_token", "")


def connection_refresh_rejected_token(*, connection: Connection, rejected_access_token: str) -> str:
    """For vendors whose tokens carry no expiry: the API refused
    `rejected_access_token` (session expired), so get a new one under the
    same row lock as `connection_get_access_token`. When another worker has
    already replaced that token while we waited, its token is returned and
    nothing is refreshed. The provider's `refresh` receives the stored refresh
    token (possibly empty: e.g. a JWT-bearer grant needs none); a
    VendorAuthError marks the connection needs_reauth and raises NeedsReauth."""
    provider = get_provider(connection.vendor)
    failed = None
    with transaction.atomic():
        locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
        creds = connection_credentials(locked)
        if locked.status in (Connection.Status.NEEDS_REAUTH, Connection.Status.DISCONNECTED):
            failed = locked.status
        elif creds.get("access_token") and creds.get("access_token") != rejected_access_token:
            pass  # another worker refreshed while we waited for the lock
        else:
            try:
                token = provider.refresh(refresh_token=creds.get("refresh_token", ""), connection=locked)
            except VendorAuthError as exc:
                failed = f"refresh refused: {exc}"
            else:
                _set_credentials(locked, token, previous=creds)
                locked.save(update_fields=["credentials", "token_expires_at", "updated_at"])
        if failed and locked.status not in (Connection.Status.NEEDS_REAUTH, Connection.Status.DISCONNECTED):
            locked.status = Connection.Status.NEEDS_REAUTH
            locked.last_error = failed[:1000]
            locked.save(update_fields=["status", "last_error", "updated_at"])
            logger.warning("connection needs re-authorization", extra={"connection": str(locked.pk), "reason": failed})
    for field in ("credentials", "token_expires_at", "status", "last_error"):
        setattr(connection, field, getattr(locked, field))
    if failed:
        raise NeedsReauth(connection)
    return connection_credentials(locked).get("access_token", "")


def connection_expire_token(*, connection_id) -> None:
    """The vendor refused our access token before its expiry (revoked, rotated
    upstream): mark it expired so the next call refreshes it first."""
    Connection.objects.filter(pk=connection_id, token_expires_at__isnull=False).update(
        token_expires_at=timezone.now(), updated_at=timezone.now())

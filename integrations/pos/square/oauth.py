"""Square OAuth 2.0 as a custom django-allauth OAuth2 provider (allauth has
none for Square).

- `SquareConnectAdapter`: authorize and token URLs from `SquareProvider`
  (settings' base URL: the sandbox in dev/tests, connect.squareup.com in
  production), redirect_uri = our callback (/api/v1/pos/square/callback).
  Square's token endpoint takes JSON only, so the code exchange is overridden
  to go through `SquareOAuthClient.exchange_code` (PKCE: the code verifier
  allauth stashed is sent instead of the client secret). Square answers
  `expires_at` (not `expires_in`); `parse_token` reads it.
- `complete_login`: token status (merchant id, scopes) and the merchant's
  business name from its locations.
- `refresh_access_token` / `revoke_access_token`: the token service's calls
  outside the allauth flow. A PKCE refresh rotates the refresh token (the
  token service stores the new one); revoke authenticates with
  `Authorization: Client <secret>`.
"""
from __future__ import annotations

from allauth.socialaccount.models import SocialToken
from allauth.socialaccount.providers.base import ProviderAccount
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider
from allauth.socialaccount.providers.oauth2.views import OAuth2Adapter
from allauth.utils import build_absolute_uri
from django.utils import timezone

from integrations.connections.http import VendorAuthError
from integrations.connections.registry import TokenSet

from . import constants
from .client import SquareClient, SquareError, SquareOAuthClient, parse_time
from .provider import SquareProvider


def _oauth_client() -> SquareOAuthClient:
    return SquareOAuthClient(base_url=SquareProvider.api_base_url(), client_id=SquareProvider.client_id(),
                             client_secret=SquareProvider.client_secret())


class SquareConnectAdapter(OAuth2Adapter):
    provider_id = "square"
    scope_delimiter = " "

    @property
    def authorize_url(self):
        return SquareProvider.authorize_url()

    @property
    def access_token_url(self):
        return SquareProvider.token_url()

    def get_callback_url(self, request, app):
        from integrations.pos.urls import oauth_callback_path

        return build_absolute_uri(request, oauth_callback_path(SquareProvider.key))

    def get_access_token_data(self, request, app, client, pkce_code_verifier=None):
        code = request.GET.get("code", "")
        with _oauth_client() as oauth:
            try:
                token = oauth.exchange_code(code=code, code_verifier=pkce_code_verifier,
                                            redirect_uri=client.callback_url)
            except SquareError as exc:
                raise OAuth2Error(f"Square refused the authorization code: {exc}") from exc
        self.did_fetch_access_token = True
        return {**token.raw, "pkce": bool(pkce_code_verifier)}

    def parse_token(self, data):
        token = SocialToken(token=data["access_token"])
        token.token_secret = data.get("refresh_token", "")
        if data.get("expires_at"):
            token.expires_at = parse_time(data["expires_at"])
        return token

    def complete_login(self, request, app, token, **kwargs):
        response = kwargs.get("response") or {}
        base = SquareProvider.api_base_url()
        with _oauth_client() as oauth:
            status = oauth.token_status(access_token=token.token)
        with SquareClient(base_url=base, access_token=token.token) as client:
            try:
                locations = client.list_locations()
            except SquareError:
                locations = []
        profile = {
            "merchant_id": status.get("merchant_id") or response.get("merchant_id"),
            "scopes": status.get("scopes") or [],
            "business_name": next((x.get("business_name") for x in locations if x.get("business_name")), ""),
            "pkce": bool(response.get("pkce")),
        }
        return self.get_provider().sociallogin_from_response(request, profile)


class SquareAccount(ProviderAccount):
    def to_str(self):
        return self.account.extra_data.get("business_name") or super().to_str()


class SquareConnectProvider(OAuth2Provider):
    id = "square"
    name = "Square"
    account_class = SquareAccount
    oauth2_adapter_class = SquareConnectAdapter
    package = "integrations.pos.square.allauth_square"

    def get_default_scope(self):
        return list(constants.DEFAULT_SCOPES)

    def get_auth_params(self):
        # Square shows its sign-in page in a fresh session (no reuse of a
        # seller already signed in to Square in this browser).
        return {**super().get_auth_params(), "session": "false"}

    def extract_uid(self, data):
        return str(data["merchant_id"])

    def extract_common_fields(self, data):
        return {}


def _token_set(token) -> TokenSet:
    expires_in = max(0, int((token.expires_at - timezone.now()).total_seconds())) if token.expires_at else None
    return TokenSet(access_token=token.access_token, refresh_token=token.refresh_token, expires_in=expires_in,
                    extra={"credentials": {"merchant_id": token.merchant_id}})


def refresh_access_token(*, refresh_token: str, pkce: bool = True) -> TokenSet:
    """A new access token; with PKCE also a new refresh token (the old one is
    dead from now on). A refused refresh token raises VendorAuthError."""
    with _oauth_client() as oauth:
        try:
            token = oauth.refresh(refresh_token=refresh_token, pkce=pkce)
        except SquareError as exc:
            if exc.status in (400, 401) and not isinstance(exc, VendorAuthError):
                raise VendorAuthError(str(exc), status_code=exc.status, body={"errors": exc.errors}) from exc
            raise
    return _token_set(token)


def revoke_access_token(*, access_token: str | None = None, merchant_id: str | None = None) -> bool:
    with _oauth_client() as oauth:
        return oauth.revoke(access_token=access_token, merchant_id=None if access_token else merchant_id)



"""HubSpot OAuth 2.0 (the 2026-03 OAuth API: provider.TOKEN_PATH,
INTROSPECT_PATH, REVOKE_PATH) on top of django-allauth's built-in HubSpot
provider.

- `HubSpotConnectAdapter`: allauth's HubspotOAuth2Adapter with its authorize
  URL taken from `HubSpotProvider` (settings' base URL: the sandbox in
  dev/tests, real HubSpot in production) and the redirect_uri pointing at our
  callback (`/api/v1/crm/hubspot/callback`). The code exchange and the token
  lookup (hub_id, user, scopes) go through our recorded client: allauth's own
  would call the sunset v1 endpoints.
- `HubSpotConnectProvider`: allauth's HubspotProvider using that adapter;
  settings.SOCIALACCOUNT_PROVIDERS["hubspot"]["provider_class"] selects it.
- `refresh_access_token` / `revoke_refresh_token`: the calls our token service
  makes outside the allauth flow.

Every call is a form-encoded POST carrying the app's client_id and
client_secret with the token in the body.
"""
from __future__ import annotations

from allauth.socialaccount.providers.hubspot.provider import HubspotProvider
from allauth.socialaccount.providers.hubspot.views import HubspotOAuth2Adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.utils import build_absolute_uri, get_request_param

from integrations.connections.http import VendorAuthError, VendorError
from integrations.connections.registry import TokenSet

from .client import HubSpotClient
from .provider import (DEAD_GRANT_ERRORS, DEAD_GRANT_STATUSES, INTROSPECT_PATH, REVOKE_PATH,
                       TOKEN_ALREADY_INVALID_ERRORS, TOKEN_ALREADY_INVALID_STATUSES, HubSpotProvider)


class HubSpotConnectAdapter(HubspotOAuth2Adapter):
    @property
    def authorize_url(self):
        return HubSpotProvider.authorize_url()

    @property
    def access_token_url(self):
        return HubSpotProvider.token_url()

    def get_callback_url(self, request, app):
        from integrations.crm.urls import oauth_callback_path

        return build_absolute_uri(request, oauth_callback_path(HubSpotProvider.key))

    def get_access_token_data(self, request, app, client, pkce_code_verifier=None):
        fields = {"grant_type": "authorization_code", "code": get_request_param(request, "code") or "",
                  "redirect_uri": client.callback_url}
        if pkce_code_verifier:
            fields["code_verifier"] = pkce_code_verifier
        try:
            data = _token_request(fields)
        except VendorError as exc:
            raise OAuth2Error(f"HubSpot refused the authorization code: {exc}") from exc
        self.did_fetch_access_token = True
        return data

    def complete_login(self, request, app, token, **kwargs):
        try:
            info = introspect_access_token(access_token=token.token)
        except VendorError as exc:
            raise OAuth2Error(f"HubSpot did not describe the new token: {exc}") from exc
        return self.get_provider().sociallogin_from_response(request, info)


class HubSpotConnectProvider(HubspotProvider):
    oauth2_adapter_class = HubSpotConnectAdapter
    # Reuse allauth's own hubspot URL module (/accounts/hubspot/login/ …).
    package = "allauth.socialaccount.providers.hubspot"


def _oauth_post(path: str, fields: dict, *, connection=None):
    """POST the app's credentials and `fields` (form-encoded) to an OAuth endpoint."""
    payload = {"client_id": HubSpotProvider.client_id(), "client_secret": HubSpotProvider.client_secret(), **fields}
    with HubSpotClient(base_url=HubSpotProvider.api_base_url(), connection=connection) as client:
        return client.request("POST", path, data=payload, auth=False)


def _error_of(exc: VendorError) -> tuple[str, str]:
    """(RFC 6749 `error`, HubSpot's legacy `status`) of an OAuth error answer."""
    body = exc.body if isinstance(exc.body, dict) else {}
    return str(body.get("error") or ""), str(body.get("status") or "")


def _token_request(fields: dict, *, connection=None) -> dict:
    """The token response; a dead grant (code or refresh token) raises VendorAuthError."""
    try:
        return _oauth_post(HubSpotProvider.token_path, fields, connection=connection).json()
    except VendorError as exc:
        error, status = _error_of(exc)
        if exc.status_code in (400, 401) and (error in DEAD_GRANT_ERRORS or status in DEAD_GRANT_STATUSES):
            raise VendorAuthError(str(exc), status_code=exc.status_code, body=exc.body) from exc
        raise


def introspect_access_token(*, access_token: str, connection=None) -> dict:
    """HubSpot's metadata of an access token (hub_id, hub_domain, user, user_id,
    scopes …); a token HubSpot calls inactive raises VendorAuthError."""
    info = _oauth_post(INTROSPECT_PATH, {"token": access_token, "token_type_hint": "access_token"},
                       connection=connection).json()
    if info.get("active") is not True:
        raise VendorAuthError("HubSpot says the access token is not active", body=info)
    return info


def refresh_access_token(*, refresh_token: str, connection=None) -> TokenSet:
    body = _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token}, connection=connection)
    return TokenSet(access_token=body["access_token"], refresh_token=body.get("refresh_token", ""),
                    expires_in=body.get("expires_in"))


def revoke_refresh_token(*, refresh_token: str, connection=None) -> None:
    try:
        _oauth_post(REVOKE_PATH, {"token": refresh_token, "token_type_hint": "refresh_token"}, connection=connection)
    except VendorError as exc:
        # A token HubSpot calls invalid or unknown is revoked already (provider.TOKEN_ALREADY_INVALID_*). A bare
        # 404 is not: the token is in the body, so it would mean the path is wrong.
        error, status = _error_of(exc)
        if not (exc.status_code in (400, 401) and (error in TOKEN_ALREADY_INVALID_ERRORS
                                                   or status in TOKEN_ALREADY_INVALID_STATUSES)):
            raise

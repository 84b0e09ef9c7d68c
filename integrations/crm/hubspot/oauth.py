"""HubSpot OAuth 2.0 on top of django-allauth's built-in HubSpot provider.

- `HubSpotConnectAdapter`: allauth's HubspotOAuth2Adapter with its authorize,
  token and token-info URLs taken from `HubSpotProvider` (settings' base URL:
  the sandbox in dev/tests, real HubSpot in production) and the redirect_uri
  pointing at our callback (`/api/v1/crm/hubspot/callback`).
- `HubSpotConnectProvider`: allauth's HubspotProvider using that adapter;
  settings.SOCIALACCOUNT_PROVIDERS["hubspot"]["provider_class"] selects it.
- `refresh_access_token` / `revoke_refresh_token`: the calls our token service
  makes outside the allauth flow (form-encoded, VENDORS.md §1.1).
"""
from __future__ import annotations

from allauth.socialaccount.providers.hubspot.provider import HubspotProvider
from allauth.socialaccount.providers.hubspot.views import HubspotOAuth2Adapter
from allauth.utils import build_absolute_uri

from integrations.connections.http import VendorAuthError, VendorError
from integrations.connections.registry import TokenSet

from .client import HubSpotClient
from .provider import ACCESS_TOKEN_INFO_PATH, REVOKE_PATH, HubSpotProvider


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

    def complete_login(self, request, app, token, **kwargs):
        # Token info (hub_id, user, scopes) through our client so the exchange is recorded.
        with HubSpotClient(base_url=HubSpotProvider.api_base_url()) as client:
            response = client.request("GET", ACCESS_TOKEN_INFO_PATH.format(token=token.token), auth=False)
        return self.get_provider().sociallogin_from_response(request, response.json())


class HubSpotConnectProvider(HubspotProvider):
    oauth2_adapter_class = HubSpotConnectAdapter
    # Reuse allauth's own hubspot URL module (/accounts/hubspot/login/ …).
    package = "allauth.socialaccount.providers.hubspot"


def _token_request(data: dict, *, connection=None) -> TokenSet:
    payload = {"client_id": HubSpotProvider.client_id(), "client_secret": HubSpotProvider.client_secret(), **data}
    with HubSpotClient(base_url=HubSpotProvider.api_base_url(), connection=connection) as client:
        try:
            response = client.request("POST", HubSpotProvider.token_path, data=payload, auth=False)
        except VendorError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            dead = body.get("status") in ("BAD_REFRESH_TOKEN", "BAD_AUTH_CODE") or body.get("error") == "invalid_grant"
            if exc.status_code in (400, 401) and dead:
                raise VendorAuthError(str(exc), status_code=exc.status_code, body=body) from exc
            raise
    body = response.json()
    return TokenSet(access_token=body["access_token"], refresh_token=body.get("refresh_token", ""),
                    expires_in=body.get("expires_in"))


def refresh_access_token(*, refresh_token: str, connection=None) -> TokenSet:
    return _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token}, connection=connection)


def revoke_refresh_token(*, refresh_token: str, connection=None) -> None:
    with HubSpotClient(base_url=HubSpotProvider.api_base_url(), connection=connection) as client:
        try:
            client.request("DELETE", REVOKE_PATH.format(token=refresh_token), auth=False)
        except VendorError as exc:
            if exc.status_code != 404:  # an unknown token is revoked already (provider.REVOKE_PATH)
                raise

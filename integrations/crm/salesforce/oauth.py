"""Salesforce OAuth 2.0, both ways a merchant connects:

- Web server flow (a merchant clicking "Connect"): django-allauth's built-in
  Salesforce provider runs it (state, PKCE S256). `SalesforceConnectAdapter`
  points its authorize/token URLs at `SalesforceProvider.login_url()`
  (settings' base URL: the sandbox in dev/tests, login.salesforce.com in
  production), its redirect_uri at our callback, and reads the org from the
  identity URL the token answer names (instead of allauth's userinfo call), so
  the Connection gets the org id, the user and the instance URL.
- JWT bearer flow (server to server): `connection_connect_jwt` signs an RS256
  assertion (jwt_bearer.py) with the org's connected-app private key, which is
  stored encrypted on the Connection so new sessions can be requested later
  (there is no refresh token in this flow).

`refresh_connection_token` / `revoke_token` are the calls the generic token
service makes outside the allauth flow.
"""
from __future__ import annotations

import httpx
from allauth.socialaccount import providers as allauth_providers
from allauth.socialaccount.providers.salesforce.provider import SalesforceProvider as AllauthSalesforceProvider
from allauth.socialaccount.providers.salesforce.views import SalesforceOAuth2Adapter
from allauth.utils import build_absolute_uri

from integrations.connections.http import VendorAuthError, VendorUnavailable
from integrations.connections.registry import TokenSet
from taxpoynt.errors import ApplicationError

from . import facts
from .client import OAuthConfigError, ReauthRequired, SalesforceOAuth, SalesforceUnavailable
from .provider import DEFAULT_WON_STAGES, SalesforceProvider, _org_id
from .session import recording_http


def login_client(*, connection=None, login_url: str | None = None) -> SalesforceOAuth:
    return SalesforceOAuth(login_url or SalesforceProvider.login_url(), SalesforceProvider.client_id(),
                           SalesforceProvider.client_secret(), http=recording_http(connection=connection))


class SalesforceConnectAdapter(SalesforceOAuth2Adapter):
    @property
    def base_url(self):
        return SalesforceProvider.login_url()

    def get_callback_url(self, request, app):
        from integrations.crm.urls import oauth_callback_path

        return build_absolute_uri(request, oauth_callback_path(SalesforceProvider.key))

    def complete_login(self, request, app, token, **kwargs):
        answer = kwargs.get("response") or {}
        identity_url = answer.get("id", "")
        with recording_http() as http:
            response = http.get(identity_url, headers={"Authorization": f"Bearer {token.token}",
                                                       "Accept": "application/json"})
        if response.status_code != 200:
            raise ApplicationError("Salesforce did not return the connected user's identity.",
                                   code="oauth_identity_failed")
        profile = response.json()
        profile.update(instance_url=(answer.get("instance_url") or "").rstrip("/"), id=identity_url,
                       scopes=(answer.get("scope") or "").split())
        return self.get_provider().sociallogin_from_response(request, profile)


class SalesforceConnectProvider(AllauthSalesforceProvider):
    oauth2_adapter_class = SalesforceConnectAdapter
    package = "allauth.socialaccount.providers.salesforce"

    def get_default_scope(self):
        return list(facts.DEFAULT_SCOPES)


# allauth's salesforce module registers its own class at import instead of
# exposing `provider_classes`, so settings' "provider_class" is not applied to
# it: register ours over it (provider.py imports this module at app ready).
allauth_providers.registry.register(SalesforceConnectProvider)


def _token_set(tokens, *, extra_credentials: dict | None = None) -> TokenSet:
    return TokenSet(access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=None,
                    scopes=list(tokens.scope),
                    extra={"credentials": {"instance_url": tokens.instance_url, **(extra_credentials or {})}})


def refresh_connection_token(*, refresh_token: str, connection) -> TokenSet:
    """A new access token: a fresh JWT assertion for JWT connections, the
    refresh-token grant otherwise. invalid_grant → VendorAuthError (needs_reauth)."""
    from integrations.connections.oauth import connection_credentials

    creds = connection_credentials(connection) if connection is not None else {}
    client = login_client(connection=connection, login_url=creds.get("login_url") or None)
    try:
        if creds.get("flow") == "jwt":
            tokens = client.jwt_bearer(username=creds["username"], private_key_pem=creds["private_key_pem"],
                                       audience=creds.get("audience") or None)
        elif refresh_token:
            tokens = client.refresh(refresh_token=refresh_token)
        else:
            raise VendorAuthError("no refresh token stored")
    except (ReauthRequired, OAuthConfigError) as exc:
        raise VendorAuthError(str(exc), status_code=exc.status_code, body=exc.body) from exc
    except SalesforceUnavailable as exc:
        raise VendorUnavailable(str(exc), status_code=exc.status_code) from exc
    finally:
        client.http.close()
    return _token_set(tokens)


def revoke_token(*, token: str, login_url: str = "", connection=None) -> None:
    """Revoke at the login host the connection used (a JWT connection's My
    Domain or test.salesforce.com host), else the app's default."""
    client = login_client(connection=connection, login_url=login_url or None)
    try:
        client.revoke(token=token)
    except OAuthConfigError as exc:
        if exc.error_code != "invalid_token":  # already revoked upstream is fine
            raise
    finally:
        client.http.close()


def connection_connect_jwt(*, organization, username: str, private_key_pem: str, login_url: str = "",
                           audience: str = "", user=None):
    """Connect `organization` to a Salesforce org with the JWT bearer flow:
    `username` is a user pre-authorized for our connected app, whose
    certificate pairs with `private_key_pem`. Requests the first session now
    (so a wrong key or user is reported at once) and stores the key encrypted
    with the connection. Returns the Connection (schedules its sync)."""
    from integrations.connections.oauth import connection_authorize

    client = login_client(login_url=login_url or None)
    try:
        tokens = client.jwt_bearer(username=username, private_key_pem=private_key_pem, audience=audience or None)
        with recording_http() as http:
            profile = http.get(tokens.identity_url, headers={"Authorization": f"Bearer {tokens.access_token}",
                                                             "Accept": "application/json"}).json()
    except (ReauthRequired, OAuthConfigError) as exc:
        raise ApplicationError(f"Salesforce refused the JWT bearer assertion: {exc.message}",
                               code="oauth_jwt_refused") from exc
    except (SalesforceUnavailable, httpx.HTTPError, ValueError) as exc:
        raise ApplicationError(f"Salesforce could not be reached: {exc}", code="vendor_unavailable") from exc
    finally:
        client.http.close()
    jwt_credentials = {"flow": "jwt", "username": username, "private_key_pem": private_key_pem,
                       "login_url": login_url, "audience": audience, "identity_url": tokens.identity_url}
    token = _token_set(tokens, extra_credentials=jwt_credentials)
    account = {"external_account_id": _org_id(tokens.org_id or profile.get("organization_id", "")),
               "display_name": username, "scopes": list(tokens.scope)}
    connection = connection_authorize(organization=organization, provider_key=SalesforceProvider.key, token=token,
                                      account=account, user=user)
    from integrations.connections.services import connection_discover_trigger_rule

    return connection_discover_trigger_rule(connection=connection)


__all__ = ["SalesforceConnectAdapter", "SalesforceConnectProvider", "connection_connect_jwt",
           "refresh_connection_token", "revoke_token", "DEFAULT_WON_STAGES"]

"""Reads on API tokens: a user's own tokens, and the lookup the
authentication class does on every request."""
import hmac

from django.db.models import QuerySet

from .models import ApiToken


def token_list(*, user) -> QuerySet:
    """The user's tokens, newest first (a user only ever sees their own)."""
    return ApiToken.objects.filter(user=user).select_related("organization")


def token_get(*, user, token_id) -> ApiToken:
    return token_list(user=user).get(pk=token_id)


def token_find(*, prefix: str, secret_sha256: str) -> ApiToken | None:
    """The token whose prefix and secret digest both match, revoked or not.

    The row is found by its public prefix, then the digests are compared in
    constant time, so response timing tells nothing about the secret."""
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_sha256, secret_sha256):
        return None
    return token

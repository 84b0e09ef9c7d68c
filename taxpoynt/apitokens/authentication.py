"""DRF authentication with API tokens:

    Authorization: Token tpk_0123456789ab.<secret>      (or: Bearer …)

Revoked, unknown or malformed tokens answer 401 in the API error shape. A
token limited to one organization narrows the user's organization list for
the request, so every selector (they all scope through
`taxpoynt.tenancy.selectors.organization_ids_for_user`) sees only that org.
"""
import datetime

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from taxpoynt.tenancy.selectors import organization_ids_for_user

from .models import ApiToken
from .selectors import token_find
from .services import hash_secret

KEYWORDS = (b"token", b"bearer")
# last_used_at is for people ("used 3 minutes ago"), so one write a minute per
# token is enough and keeps the hot path read-only.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # not ours: let session auth try
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Token <token>'.")
        try:
            prefix, _, secret = parts[1].decode("ascii").partition(".")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not prefix or not secret:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = token_find(prefix=prefix, secret_sha256=hash_secret(secret))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.", code="token_revoked")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token.organization_id is not None:
            allowed = [pk for pk in organization_ids_for_user(user=user) if pk == token.organization_id]
            user._taxpoynt_org_ids = allowed  # the cache every scoping selector reads
        self._touch(token)
        return user, token

    def authenticate_header(self, request):
        # Makes unauthenticated requests answer 401 (with WWW-Authenticate), not 403.
        return self.keyword

    @staticmethod
    def _touch(token: ApiToken):
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            # Conditional: concurrent requests do not all write.
            ApiToken.objects.filter(pk=token.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
            token.last_used_at = now

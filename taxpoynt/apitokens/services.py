"""Writes on API tokens: issue (the plaintext is returned once and never
stored) and revoke."""
import hashlib
import secrets
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from taxpoynt.audit.models import AuditLog
from taxpoynt.audit.services import audit_log_record, snapshot
from taxpoynt.errors import ApplicationError
from taxpoynt.tenancy.selectors import organization_ids_for_user

from .models import ApiToken

# "tpk_" makes a leaked token recognisable to secret scanners and in logs.
TOKEN_PREFIX_MARK = "tpk_"
SECRET_BYTES = 32  # 256 bits: a fast digest at rest is then enough (see models.py).


class IssuedToken(NamedTuple):
    token: ApiToken
    plaintext: str  # "<prefix>.<secret>": show it once, then forget it


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def token_create(*, user, name: str, organization=None, source: str = AuditLog.Source.DASHBOARD) -> IssuedToken:
    """Issue a token for `user`; optionally limited to one of the user's organizations."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError("Give the token a name.", extra={"name": ["This field is required."]})
    if organization is not None and organization.pk not in organization_ids_for_user(user=user):
        raise ApplicationError("You are not a member of that organization.", code="permission_denied")
    prefix = TOKEN_PREFIX_MARK + secrets.token_hex(6)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=prefix, secret_sha256=hash_secret(secret),
                                    organization=organization)
    audit_log_record(actor=user, source=source, action="api_token_create", instance=token, after=snapshot(token),
                     organization=organization)
    return IssuedToken(token=token, plaintext=f"{prefix}.{secret}")


@transaction.atomic
def token_revoke(*, token: ApiToken, actor, source: str = AuditLog.Source.DASHBOARD) -> ApiToken:
    """Revoke `token` at once; later requests with it answer 401. Revoking twice is a no-op."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        before = snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_log_record(actor=actor, source=source, action="api_token_revoke", instance=token, before=before,
                         after=snapshot(token), organization=token.organization)
    return token

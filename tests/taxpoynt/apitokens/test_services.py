import hashlib

import pytest
from django.db import connection

from taxpoynt.apitokens.models import ApiToken
from taxpoynt.apitokens.services import token_create, token_revoke
from taxpoynt.audit.models import AuditLog
from taxpoynt.errors import ApplicationError


@pytest.mark.django_db
def test_create_returns_plaintext_once_and_stores_only_its_hash(make_user):
    user = make_user()
    issued = token_create(user=user, name="ERP export")
    prefix, _, secret = issued.plaintext.partition(".")
    assert prefix == issued.token.prefix and prefix.startswith("tpk_")
    assert len(secret) >= 43  # 32 random bytes, urlsafe base64
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert stored.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    # The secret is nowhere in the row (nor in the audit log).
    with connection.cursor() as cur:
        cur.execute("SELECT row_to_json(t)::text FROM apitokens_apitoken t WHERE id = %s", [stored.pk])
        assert secret not in cur.fetchone()[0]
        cur.execute("SELECT coalesce(string_agg(row_to_json(a)::text, ''), '') FROM audit_auditlog a")
        assert secret not in cur.fetchone()[0]
    assert AuditLog.objects.filter(action="api_token_create", object_id=str(stored.pk)).exists()


@pytest.mark.django_db
def test_two_tokens_never_share_prefix_or_secret(make_user):
    user = make_user()
    a, b = token_create(user=user, name="a"), token_create(user=user, name="b")
    assert a.token.prefix != b.token.prefix
    assert a.plaintext.split(".")[1] != b.plaintext.split(".")[1]


@pytest.mark.django_db
def test_create_refuses_an_organization_the_user_is_not_in(make_user, make_org):
    user = make_user()
    foreign = make_org(owner=make_user())
    with pytest.raises(ApplicationError):
        token_create(user=user, name="x", organization=foreign)
    with pytest.raises(ApplicationError):
        token_create(user=user, name="  ")
    assert not ApiToken.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_revoke_sets_revoked_at_once(make_user):
    user = make_user()
    token = token_create(user=user, name="x").token
    first = token_revoke(token=token, actor=user).revoked_at
    assert first is not None
    assert token_revoke(token=token, actor=user).revoked_at == first
    assert AuditLog.objects.filter(action="api_token_revoke", object_id=str(token.pk)).count() == 1

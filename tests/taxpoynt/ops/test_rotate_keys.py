"""Key rotation: the newest key encrypts, all keys decrypt, `rotate_keys`
re-encrypts every secret so the old key can be dropped."""
import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection as db
from fernet_fields.hkdf import derive_fernet_key

from integrations.connections.models import Connection
from taxpoynt.ops.services import reset_fernet_key_cache
from taxpoynt.tenancy.models import Organization
from tests import factories


def raw_ciphertext(table, column, pk):
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return bytes(cursor.fetchone()[0])


@pytest.fixture
def keys(settings):
    def use(*keys):
        settings.FERNET_KEYS = list(keys)
        reset_fernet_key_cache()
    yield use
    reset_fernet_key_cache()


@pytest.mark.django_db
def test_rotate_keys_reencrypts_every_secret(make_org, keys):
    keys("old-key")
    org = make_org(firs_api_secret="firs-secret")
    conn = factories.connection(org, credentials='{"access_token": "tok"}')
    old = Fernet(derive_fernet_key("old-key"))
    new = Fernet(derive_fernet_key("new-key"))
    assert old.decrypt(raw_ciphertext("connections_connection", "credentials", conn.pk)) == b'{"access_token": "tok"}'

    keys("new-key", "old-key")
    # Before rotation: still readable (old key decrypts), still old ciphertext.
    assert Connection.objects.get(pk=conn.pk).credentials == '{"access_token": "tok"}'
    with pytest.raises(InvalidToken):
        new.decrypt(raw_ciphertext("connections_connection", "credentials", conn.pk))

    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "connections.Connection: 1/1" in out.getvalue()
    assert new.decrypt(raw_ciphertext("connections_connection", "credentials", conn.pk)) == b'{"access_token": "tok"}'
    assert new.decrypt(raw_ciphertext("tenancy_organization", "firs_api_secret", org.pk)) == b"firs-secret"

    # The old key can now be dropped.
    keys("new-key")
    assert Connection.objects.get(pk=conn.pk).credentials == '{"access_token": "tok"}'
    assert Organization.objects.get(pk=org.pk).firs_api_secret == "firs-secret"


@pytest.mark.django_db
def test_credentials_are_not_stored_in_plaintext(make_org):
    conn = factories.connection(make_org(), credentials='{"refresh_token": "very-secret-refresh"}')
    assert b"very-secret-refresh" not in raw_ciphertext("connections_connection", "credentials", conn.pk)

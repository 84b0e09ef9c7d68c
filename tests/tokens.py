"""`expire_without_refresh(connection)`: its access token expired, asked for
one, with no refresh token stored: the token service marks it needs_reauth
and says why (integrations.connections.oauth.connection_get_access_token)."""
import datetime

import pytest
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.connections.oauth import NeedsReauth, connection_get_access_token


def expire_without_refresh(connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(token_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    connection.refresh_from_db()
    with pytest.raises(NeedsReauth):
        connection_get_access_token(connection=connection)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH and "without a refresh token" in connection.last_error

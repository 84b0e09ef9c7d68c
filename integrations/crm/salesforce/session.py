"""A Salesforce org's API as one Connection uses it:

- `recording_http`: the shared recording client of connections.http (every
  request/response a VendorExchange row, secrets masked), so Salesforce
  traffic shows in the same audit trail as every other vendor's.
- `OrgApi`: `SalesforceClient` bound to the connection's instance URL and
  access token. A call answered INVALID_SESSION_ID gets a new token through
  `connection_refresh_rejected_token` (row lock; JWT connections sign a new
  assertion) and is retried once. REQUEST_LIMIT_EXCEEDED becomes the shared
  `RateLimited` with a wait until the next hour (no Retry-After exists); the
  last `Sforce-Limit-Info` usage is saved on `Connection.settings["api_usage"]`
  for the dashboard. 5xx/transport → `VendorUnavailable`; other API errors
  pass through as `SalesforceApiError`.
"""
from __future__ import annotations

import datetime
import json
import logging

import httpx
from django.db import connection as db_connection
from django.utils import timezone

from integrations.connections.http import RateLimited, VendorUnavailable, recording_client
from integrations.connections.oauth import connection_credentials, connection_refresh_rejected_token

from .client import ApiUsage, LimitExceeded, SalesforceClient, SalesforceUnavailable, SessionExpired
from .provider import LIMIT_BACKOFF_MIN_SECONDS, SalesforceProvider

logger = logging.getLogger(__name__)


def recording_http(*, connection=None, timeout: float = 30.0) -> httpx.Client:
    return recording_client(vendor=SalesforceProvider.key, connection=connection, timeout=timeout)


def limit_wait_seconds(now: datetime.datetime | None = None) -> float:
    """Seconds until the next full hour (at least LIMIT_BACKOFF_MIN_SECONDS)."""
    now = now or timezone.now()
    next_hour = (now + datetime.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return max(float(LIMIT_BACKOFF_MIN_SECONDS), (next_hour - now).total_seconds())


def connection_record_api_usage(*, connection, usage: ApiUsage | None, exceeded: bool = False) -> None:
    """Merge the latest usage into Connection.settings in one statement (no
    read-modify-write race with the sync runner's save)."""
    if usage is None and not exceeded:
        return
    data = {"api_usage": {"used": usage.used if usage else None, "max": usage.max if usage else None,
                          "at": timezone.now().isoformat(), "limit_exceeded": exceeded}}
    from integrations.connections.models import Connection

    table = Connection._meta.db_table
    with db_connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET settings = COALESCE(settings, '{{}}'::jsonb) || %s::jsonb "
                       f"WHERE id = %s", [json.dumps(data), connection.pk])


class OrgApi:
    """The connection's org API; use as a context manager."""

    def __init__(self, connection):
        self.connection = connection
        self._client: SalesforceClient | None = None
        self._usage_recorded: ApiUsage | None = None

    # -------------------------------------------------------------- plumbing
    def _bind(self) -> SalesforceClient:
        if self._client is None:
            from integrations.connections.oauth import connection_get_access_token

            token = connection_get_access_token(connection=self.connection)  # NeedsReauth when dead
            creds = connection_credentials(self.connection)
            self._client = SalesforceClient(creds.get("instance_url", ""), token,
                                            http=recording_http(connection=self.connection))
        return self._client

    def call(self, fn):
        """fn(client) → value, with one refresh-and-retry on an expired session."""
        client = self._bind()
        try:
            try:
                return fn(client)
            except SessionExpired:
                token = connection_refresh_rejected_token(connection=self.connection,
                                                          rejected_access_token=client.access_token)
                client.access_token = token
                client.instance_url = (connection_credentials(self.connection).get("instance_url")
                                       or client.instance_url).rstrip("/")
                return fn(client)
        except LimitExceeded as exc:
            connection_record_api_usage(connection=self.connection, usage=client.api_usage, exceeded=True)
            self._usage_recorded = client.api_usage  # close() must not overwrite the exceeded flag
            wait = limit_wait_seconds()
            logger.warning("salesforce api limit exceeded", extra={"connection": str(self.connection.pk),
                                                                   "retry_after": wait})
            raise RateLimited(f"Salesforce REQUEST_LIMIT_EXCEEDED: {exc.message}", retry_after=wait,
                              status_code=exc.status_code, body=exc.body) from exc
        except SessionExpired as exc:
            raise VendorUnavailable(f"Salesforce refused a freshly issued session: {exc.message}",
                                    status_code=exc.status_code) from exc
        except SalesforceUnavailable as exc:
            raise VendorUnavailable(exc.message, status_code=exc.status_code, body=exc.body) from exc

    def save_usage(self):
        client = self._client
        if client is not None and client.api_usage is not None and client.api_usage != self._usage_recorded:
            connection_record_api_usage(connection=self.connection, usage=client.api_usage)
            self._usage_recorded = client.api_usage

    def close(self):
        if self._client is not None:
            self.save_usage()
            self._client.close()
            self._client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------------- calls
    def query_page(self, *, soql: str | None = None, next_url: str | None = None) -> dict:
        def run(client):
            if next_url:
                return client._request("GET", next_url)
            return client._request("GET", f"{client.data_path}/query", params={"q": soql})
        return self.call(run)

    def update_opportunity(self, opportunity_id: str, fields: dict) -> None:
        self.call(lambda client: client.update_opportunity(opportunity_id, fields))

    def get_opportunity(self, opportunity_id: str, *, fields: list[str] | None = None) -> dict:
        return self.call(lambda client: client.get("Opportunity", opportunity_id, fields=fields))

"""Salesforce CRM connector (issue 7).

Protocol pieces (framework-free): facts.py (protocol facts as data), ids.py,
client.py (SalesforceOAuth / SalesforceClient and their errors), jwt_bearer.py,
soql.py (the delta query), outbound.py + outbound_message.wsdl (zeep parse and
SOAP Ack), mapping.py (Opportunity → canonical invoice), sandbox/.

Wiring into integrations.connections:
- provider.py: SalesforceProvider (registered), choices kept as data;
- oauth.py: allauth web server flow (our adapter/provider class),
  `connection_connect_jwt` for the JWT bearer flow, refresh and revoke;
- session.py: `OrgApi` (instance URL, refresh on INVALID_SESSION_ID under the
  row lock, REQUEST_LIMIT_EXCEEDED → RateLimited until the next hour, API
  usage on the connection) and the VendorExchange-recording httpx client;
- sync.py: the checkpointed SOQL delta sync following nextRecordsUrl;
- webhooks.py: outbound-message intake (per-connection token, org check) and
  the CDC-style poll; services.py: the shared upsert both converge on;
- writeback.py + tasks.py: IRN/number/status written back after FIRS confirms.
"""

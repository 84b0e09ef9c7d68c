"""The generic connector machinery; it knows no vendor.

Models: Connection (credentials encrypted, sync cursor + checkpoint + progress,
trigger rule, field map, beat entry), WebhookEvent (raw inbound events, stored
before they are acknowledged), RejectedWebhook, VendorExchange (every vendor
request/response, secrets masked), SourceRecord (base of every vendor object row).

Modules:
- registry.py  Provider base (facts as data + hooks), register(), get_provider()
- http.py      RecordingTransport/recording_client (every vendor exchange a masked
               VendorExchange row), VendorClient (httpx, 429 handling), errors
- oauth.py     allauth "connect" flow start/callback, Connection from tokens,
               connection_get_access_token (refresh under a row lock)
- webhooks.py  POST /webhooks/<kind>/<vendor>: verify, store (dedup), enqueue
- sync.py      checkpointed, resumable sync runner over a VendorSync
- rules.py     trigger rules and field maps (validation, reading)
- services.py  schedule/sync/configure/disconnect/replay; selectors.py reads
- views.py, dashboard_urls.py, apis.py, urls.py, admin.py, tasks.py

Adding a vendor: a package with provider.py (subclass Provider, @register),
client.py (VendorClient), oauth.py (allauth provider subclass + refresh/revoke),
webhooks.py (verify + parse), mapping.py, sync.py (VendorSync), tasks.py
(webhook task), then an entry in settings.ALLAUTH_CONNECTION_PROVIDERS.
The kind's AppConfig.ready imports every vendor's provider and tasks.
"""

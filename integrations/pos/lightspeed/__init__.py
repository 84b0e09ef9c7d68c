"""Lightspeed Retail (X-Series) POS connector: version-cursor sales feed (not yet built).

For whoever builds it (vendor API audit, 2026-12-07): since 2026-06-01 the
`/connect` authorization request must carry a `scope` parameter (changelog
"2025-11 scope parameter required"); the API is date-versioned, each version
supported for at least 12 months (2026-01 until January 2027: docs
"versioning strategy"), so pin the newest version in one constant and plan
an upgrade each quarter; subscribe to webhooks through the JSON webhooks
API, not the form-encoded 0.9 one."""

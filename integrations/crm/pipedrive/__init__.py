"""Pipedrive CRM connector: deals, products, Basic-auth webhooks (not yet built).

For whoever builds it (vendor API audit, 2026-12-07): use API v2 only
(`GET /api/v2/deals?status=won&updated_since=…&cursor=`, `PATCH
/api/v2/deals/{id}`, `GET /api/v2/deals/{id}/products`). Pipedrive's v1
endpoints replaced by v2 are out of support since 2026-08-01 ("they may be
changed or removed without further notice", changelog "deprecated API v1
endpoints become out of support"), so the v1 fallbacks in VENDORS.md §3.2
must not be built. Webhooks are still created with `POST /v1/webhooks`
(`version: "2.0"`, event `change.deal`)."""

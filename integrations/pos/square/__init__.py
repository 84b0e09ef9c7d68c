"""Square POS connector (issue 6).

- `constants`: Square's protocol facts as data (version, scopes, limits, event
  types, retry schedule, pricing readings; UNCONFIRMED ones marked there).
- `client`: httpx clients for OAuth (`SquareOAuthClient`) and the read APIs
  (`SquareClient`), with Square's errors mapped to RateLimited / SquareRetryable /
  SquareAuthError / SquareNotFound / SquareError.
- `webhooks`: signature verification and event parsing (pure functions).
- `mapping`: Square order / return order → `invoicing.canonical.CanonicalInvoice`.
- `sandbox`: a local Square (WSGI) for tests, benches and the demo.

Wiring into `integrations.connections`:
- `provider`: `SquareProvider` (facts as data, webhook verification/parsing,
  token refresh/revoke hooks), registered at app ready.
- `oauth` (+ the tiny `allauth_square` app): our django-allauth OAuth2
  provider for Square (authorization code + PKCE, JSON token exchange).
- `services`: order/refund ingest → Transaction + invoice / credit note,
  webhook event processing, end-of-day reconciliation, batch re-processing.
- `sync`: the order sync (COMPLETED, updated_at cursor, ≤ 10 locations a
  query, checkpointed, 429-aware) for the generic runner.
- `tasks`: the pos_realtime webhook task, locations refresh, reconciliation.
- `demo`: the Square part of `make demo`.
"""

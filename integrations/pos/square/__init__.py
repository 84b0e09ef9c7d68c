"""Square POS connector (issue 6).

- `constants`: Square's protocol facts as data (version, scopes, limits, event
  types, retry schedule, pricing readings; UNCONFIRMED ones marked there).
- `client`: httpx clients for OAuth (`SquareOAuthClient`) and the read APIs
  (`SquareClient`), with Square's errors mapped to RateLimited / SquareRetryable /
  SquareAuthError / SquareNotFound / SquareError.
- `webhooks`: signature verification and event parsing (pure functions).
- `mapping`: Square order / return order → `invoicing.canonical.CanonicalInvoice`.
- `sandbox`: a local Square (WSGI) for tests, benches and the demo.

Wiring into `integrations.connections` (provider, OAuth adapter, sync, tasks)
follows the framework's vendor layout.
"""

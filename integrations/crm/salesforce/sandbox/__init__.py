"""Salesforce sandbox: one WSGI app (`app.create_app(**options)`) acting as
both the login host and the org's instance (`instance_url` is its own base
URL), speaking Salesforce's documented protocols closely enough that
simple-salesforce works against it with only the instance URL changed.

OAuth (login host)
  GET  /services/oauth2/authorize   response_type=code, client_id, redirect_uri,
       state, scope, code_challenge (S256) → consent page ("Allow"/"Deny"
       buttons) → 302 to redirect_uri with code & state (or error=access_denied).
  POST /services/oauth2/token       form; grants authorization_code (+code_verifier,
       client_secret), refresh_token (no rotation unless refresh_mode="rotate";
       unknown/revoked → 400 invalid_grant "expired access/refresh token"), and
       urn:ietf:params:oauth:grant-type:jwt-bearer (RS256 assertion verified
       against the connected app's certificate; iss = consumer key, sub = a
       pre-authorized username, aud = this sandbox's URL or login/test.salesforce.com,
       exp in the future and ≤ 5 min away). Response: access_token, instance_url,
       id, token_type, issued_at, signature, scope (+ refresh_token for code /
       rotated refresh) — never expires_in, as Salesforce.
  POST /services/oauth2/revoke      token=… → 200, unknown or already revoked →
       400 {"error": "invalid_token"}; revoking a refresh token kills its access
       tokens (Salesforce "Revoke OAuth Tokens").

REST (instance, any /services/data/vNN.N)
  GET  query?q=SOQL, queryAll?q=…, query/<locator>-<offset> (nextRecordsUrl);
       batches of `batch_size` (200 by default so tests page). SOQL subset: see
       `soql.py`. Errors MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE,
       INVALID_QUERY_LOCATOR.
  GET/PATCH sobjects/<Type>/<Id> (PATCH → 204; INVALID_FIELD,
       INVALID_FIELD_FOR_INSERT_UPDATE for read-only fields, NOT_FOUND).
  GET  limits → {"DailyApiRequests": {"Max", "Remaining"}, …}.
  Every REST response carries `Sforce-Limit-Info: api-usage=N/Max`. Over the
  daily allocation → 403 REQUEST_LIMIT_EXCEEDED; bad/expired token → 401
  INVALID_SESSION_ID. Errors are Salesforce's [{message, errorCode, fields}].

Events
  Outbound Messaging: when an Opportunity enters a won stage (or one of
  `trigger_stages`), a SOAP notifications envelope (format of
  ../outbound_message.wsdl) is POSTed to the configured listener; retried with
  scaled-down backoff until an `<Ack>true</Ack>`; dropped after the scaled
  24 h; `resend` produces duplicates. See `outbound_sender.py`.
  CDC stand-in: GET /_sandbox/cdc?replayId=N[&channel=/data/OpportunityChangeEvent]
  returns {"events": [{"replayId", "channel", "payload": {"ChangeEventHeader":
  {entityName, recordIds, changeType, changedFields, changeOrigin,
  transactionKey, sequenceNumber, commitTimestamp, …}, changed fields…}}],
  "latestReplayId"}; replayId -1 = only new events, -2 = all retained. This is a
  SIMPLIFIED polling stand-in for the CometD / Pub/Sub API (gRPC) streams,
  which cannot run here: same event shape and replay semantics, no streaming.

Control API (/_sandbox/, JSON; no auth) and `app.sandbox` in process
  POST reset · GET state (org id, username, usage, counts, stages)
  GET/POST connected-app {consumer_key, consumer_secret, redirect_uris,
       certificate_pem, preauthorized_usernames, refresh_mode, require_secret,
       extra_audiences}
  POST seed {accounts: [...], products: [...], opportunities: [{…, account: <index>,
       line_items: [{product: <code>, Quantity, UnitPrice, Discount}]}]} → ids
  GET/POST/PATCH/DELETE opportunities/<id> — a user's edit (StageName → won fires
       the outbound message and a CDC event)
  POST limits {daily_limit, used} · POST tokens {ttl_seconds, expire_all, revoke_all}
  POST settings {batch_size}
  GET/POST outbound {url, fields, trigger_stages, include_session_id,
       first_interval, max_interval, window, timeout} · GET outbound/log
  POST outbound/resend {notification_ids?} · POST outbound/flush {timeout}
  GET cdc?replayId=N
  PUT faults {faults: [{path (prefix), method?, status (503), count (null: until
       the next PUT)}]} — fail on demand (e.g. path /services/oauth2/revoke);
       {faults: []} recovers.  `app.sandbox.set_faults(...)`
In process: `app.sandbox.seed(...)`, `.update_opportunity(id, **fields)`,
`.configure_app(...)`, `.configure_outbound(...)`, `.outbound.wait_idle()`,
`.outbound.log`, `.store` (data, daily_limit, api_usage, token_ttl).
"""
